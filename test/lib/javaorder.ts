/**
 * Runs scripted operations against the real java.util.HashSet and a ConcurrentHashMap key set of
 * ZooKeeper Ids in a JVM, to check the iteration-order models in src/lib/javahash.ts.
 *
 * Script lines (strings as hex of their UTF-16 code units, so any name survives):
 *   new <capacity>   a fresh `new HashSet<String>(capacity)` (0: `new HashSet<>()`)
 *   add <hex>        set.add          del <hex>   set.remove
 *   clone            set = (HashSet) set.clone()
 *   print            one output line: the set's iteration order, hex strings joined by ','
 *   ids              a fresh Collections.newSetFromMap(new ConcurrentHashMap<Id, Boolean>())
 *   id <hex> <hex>   ids.add(new Id(scheme, id))
 *   printids         one output line: scheme/id hex pairs in iteration order
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const JAVA = '/usr/bin/java';
const JUTE_JAR = '/usr/share/java/zookeeper-jute.jar';

/** Why the JVM check cannot run here, or false; throws under CI, where it must run. */
export function skipUnlessJava(): string | false {
  const missing = !existsSync(JAVA) ? 'java is not installed' : !existsSync(JUTE_JAR) ? `${JUTE_JAR} missing (apt-get install zookeeper)` : null;
  if (missing && process.env.CI) throw new Error(`required under CI: ${missing}`);
  return missing ?? false;
}

const PROGRAM = `
import java.io.*;
import java.util.*;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.zookeeper.data.Id;

public class OrderProbe {
  static String unhex(String h) {
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < h.length(); i += 4) b.append((char) Integer.parseInt(h.substring(i, i + 4), 16));
    return b.toString();
  }
  static String hex(String s) {
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < s.length(); i++) b.append(String.format("%04x", (int) s.charAt(i)));
    return b.toString();
  }
  @SuppressWarnings("unchecked")
  public static void main(String[] args) throws IOException {
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
    PrintWriter out = new PrintWriter(new BufferedWriter(new OutputStreamWriter(System.out)));
    HashSet<String> set = new HashSet<>();
    Set<Id> ids = Collections.newSetFromMap(new ConcurrentHashMap<Id, Boolean>());
    for (String line; (line = in.readLine()) != null; ) {
      String[] w = line.split(" ", -1);
      switch (w[0]) {
        case "new": { int c = Integer.parseInt(w[1]); set = c == 0 ? new HashSet<>() : new HashSet<>(c); break; }
        case "add": set.add(w.length > 1 ? unhex(w[1]) : ""); break;
        case "del": set.remove(w.length > 1 ? unhex(w[1]) : ""); break;
        case "clone": set = (HashSet<String>) set.clone(); break;
        case "print": {
          StringJoiner j = new StringJoiner(",");
          for (String s : set) j.add(hex(s));
          out.println(j);
          break;
        }
        case "ids": ids = Collections.newSetFromMap(new ConcurrentHashMap<Id, Boolean>()); break;
        case "id": ids.add(new Id(unhex(w[1]), unhex(w[2]))); break;
        case "printids": {
          StringJoiner j = new StringJoiner(",");
          for (Id id : ids) j.add(hex(id.getScheme()) + "/" + hex(id.getId()));
          out.println(j);
          break;
        }
        default: throw new IllegalArgumentException(line);
      }
    }
    out.flush();
  }
}
`;

export function hex(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) out += s.charCodeAt(i).toString(16).padStart(4, '0');
  return out;
}

export function unhex(h: string): string {
  let out = '';
  for (let i = 0; i < h.length; i += 4) out += String.fromCharCode(parseInt(h.slice(i, i + 4), 16));
  return out;
}

/** Runs `script` (lines as above) in one JVM; returns the printed lines. */
export function runJava(script: readonly string[]): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'javaorder-'));
  try {
    const source = join(dir, 'OrderProbe.java');
    writeFileSync(source, PROGRAM);
    const stdout = execFileSync(JAVA, ['-cp', JUTE_JAR, source], { input: script.join('\n') + '\n', maxBuffer: 256 * 1024 * 1024, timeout: 120_000 });
    return stdout.toString().split('\n').slice(0, -1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
