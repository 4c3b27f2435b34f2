/** Splitting a zkCli line into words and parsing options the way zkCli's commons-cli parser does. */

/** A usage problem: zkCli prints the message (often the usage line) and the command fails with 1. */
export class CliError extends Error {
  constructor(message: string, readonly exitCode = 1) {
    super(message);
  }
}

/** zkCli's tokenizer: words separated by spaces, or whole in double or single quotes. */
export function tokenize(line: string): string[] {
  const words: string[] = [];
  const re = /"([^"]*)"|'([^']*)'|(\S+)/g;
  for (let m = re.exec(line); m !== null; m = re.exec(line)) words.push(m[1] ?? m[2] ?? m[3]!);
  return words;
}

export interface OptionSpec {
  /** Option letters that take a value. */
  withValue?: string;
  /** Option letters that are flags. */
  flags?: string;
}

export interface Parsed {
  opts: Map<string, string | true>;
  args: string[];
}

/** Options may come before or after the arguments; negative numbers are arguments. */
export function parseOptions(words: readonly string[], spec: OptionSpec): Parsed {
  const opts = new Map<string, string | true>();
  const args: string[] = [];
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    if (!w.startsWith('-') || w === '-' || /^-\d+$/.test(w)) {
      args.push(w);
      continue;
    }
    const name = w.slice(1);
    if (spec.flags?.includes(name) && name.length === 1) {
      opts.set(name, true);
    } else if (spec.withValue?.includes(name) && name.length === 1) {
      const value = words[i + 1];
      if (value === undefined) throw new CliError(`org.apache.commons.cli.MissingArgumentException: Missing argument for option: ${name}`);
      opts.set(name, value);
      i++;
    } else {
      throw new CliError(`org.apache.commons.cli.UnrecognizedOptionException: Unrecognized option: ${w}`);
    }
  }
  return { opts, args };
}
