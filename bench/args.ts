/** Command lines of the bench tools. */

/**
 * The words of a command line in order, each with a reader of its value: calling it takes the
 * next word (an error when there is none), so the walk then goes on after that word.
 */
export function* flags(argv: readonly string[]): Generator<[string, () => string]> {
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      return v;
    };
    yield [flag, value];
  }
}
