/**
 * Two writers on one root, and a full disk, as a user meets them through the CLI: a second `mrl retrieve` on a
 * root in use waits for the first (or stops at once with --no-wait) and both end with the outputs of a single run;
 * a run killed with SIGKILL leaves a lock the next run takes over; a full disk (a small tmpfs mounted here) gives
 * one line naming the file, leaves no half-written output, and a re-run with more room finishes what a clean run
 * makes, byte for byte.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { arrayPath, lockFolder, LOCK_NAME, matrix, writeLabelsNpy, writeMatrixNpy } from "@mrl-retrieval/lib/internal";
import { REPO, seededFloats, tempDir, testExperimentFile } from "./helpers";

const CLI = path.join(REPO, "lib", "dist", "cli.js");
const DB = 3000, NQ = 300, DIM = 64;
const ARGS = ["--dataset", "SYN", "--model", "mrl", "--index", "exactl2", "--dims", "8,16,64", "--k", "100",
  "--adaptive", "8:64:50", "--funnel", "8:16,64:50,10"];
const experiment = testExperimentFile({});

/** A root holding the synthetic arrays under the original names. */
function fixtureRoot(dir = tempDir("mrl-rel-")): string {
  const labels = (n: number) => Int32Array.from({ length: n }, (_, i) => i % 10);
  writeMatrixNpy(arrayPath(dir, "SYN", "train", "mrl", "X"), matrix(DB, DIM, seededFloats(DB * DIM, 7).map(Math.abs)));
  writeLabelsNpy(arrayPath(dir, "SYN", "train", "mrl", "y"), labels(DB));
  writeMatrixNpy(arrayPath(dir, "SYN", "val", "mrl", "X"), matrix(NQ, DIM, seededFloats(NQ * DIM, 8).map(Math.abs)));
  writeLabelsNpy(arrayPath(dir, "SYN", "val", "mrl", "y"), labels(NQ));
  return dir;
}

const cliArgs = (root: string, extra: string[] = []): string[] => [CLI, "retrieve", "--experiment", experiment, "--root", root, ...ARGS, ...extra];

function retrieve(root: string, extra: string[] = []) {
  return spawnSync(process.execPath, cliArgs(root, extra), { encoding: "utf8" });
}

function startRetrieve(root: string, extra: string[] = []): { child: ChildProcess; stderr: () => string; exit: Promise<number | null> } {
  const child = spawn(process.execPath, cliArgs(root, extra), { stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  child.stderr!.on("data", (d: Buffer) => { err += d.toString(); });
  const exit = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
  return { child, stderr: () => err, exit };
}

/** Every output file's bytes (manifests record times, the lock its holder: left out). */
function outputs(root: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (dir: string): void => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const file = path.join(dir, e.name);
      if (e.isDirectory()) walk(file);
      else if (e.name !== "manifest.json" && e.name !== LOCK_NAME) out.set(path.relative(root, file), fs.readFileSync(file).toString("base64"));
    }
  };
  walk(root);
  return out;
}

const until = async (what: () => boolean, ms = 30_000): Promise<void> => {
  const end = Date.now() + ms;
  while (!what()) {
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 20));
  }
};

const reference = (() => {
  let cached: Map<string, string> | undefined;
  return (): Map<string, string> => {
    if (!cached) {
      const root = fixtureRoot();
      const run = retrieve(root);
      assert.equal(run.status, 0, run.stderr);
      cached = outputs(root);
    }
    return cached;
  };
})();

test("a second run on a root in use waits for the holder, then makes the outputs of a single run", async () => {
  const root = fixtureRoot();
  const lock = lockFolder(root, { command: "the test holding the root" });
  const second = startRetrieve(root);
  try {
    await until(() => /waiting for it to finish/.test(second.stderr()));
    assert.match(second.stderr(), /in use by pid \d+ on .* \(the test holding the root, since /);
    assert.ok(!fs.existsSync(path.join(root, "neighbors")), "nothing is written while it waits");
  } finally {
    lock.release();
  }
  assert.equal(await second.exit, 0, second.stderr());
  assert.deepEqual(outputs(root), reference());
});

test("--no-wait stops at once with one line naming the holder", () => {
  const root = fixtureRoot();
  const lock = lockFolder(root, { command: "the test holding the root" });
  try {
    const run = retrieve(root, ["--no-wait"]);
    assert.equal(run.status, 1);
    const lines = run.stderr.trim().split("\n");
    assert.equal(lines.length, 1, run.stderr);
    assert.match(lines[0], /^error: .*: in use by pid \d+ on .*the test holding the root.*not waiting \(--no-wait\)/);
    assert.ok(!fs.existsSync(path.join(root, "neighbors")));
  } finally {
    lock.release();
  }
});

test("two mrl retrieve at once on one root both succeed, one after the other, with a single run's outputs", async () => {
  const root = fixtureRoot();
  const [a, b] = [startRetrieve(root, ["--force"]), startRetrieve(root, ["--force"])];
  const codes = await Promise.all([a.exit, b.exit]);
  assert.deepEqual(codes, [0, 0], a.stderr() + b.stderr());
  assert.ok(/waiting for it to finish/.test(a.stderr() + b.stderr()), "one of them waited for the other");
  assert.deepEqual(outputs(root), reference());
});

test("a lock left by a SIGKILLed run is taken over with a note, and the re-run finishes its outputs", async () => {
  const root = fixtureRoot();
  const first = startRetrieve(root);
  const lockFile = path.join(fs.realpathSync(root), LOCK_NAME);
  await until(() => fs.existsSync(lockFile) && fs.readFileSync(lockFile, "utf8").includes(`"pid":${first.child.pid}`));
  first.child.kill("SIGKILL");
  await first.exit;
  const again = retrieve(root);
  assert.equal(again.status, 0, again.stderr);
  assert.match(again.stderr, new RegExp(`took over the lock left by pid ${first.child.pid} .*which is no longer running`));
  assert.deepEqual(outputs(root), reference());
});

/** Mounts a tmpfs of `bytes` at `dir`; the reason when this machine refuses. */
function mountTmpfs(dir: string, bytes: number): string | undefined {
  if (process.getuid?.() !== 0) return "mounting a tmpfs needs root";
  const run = spawnSync("mount", ["-t", "tmpfs", "-o", `size=${bytes}`, "tmpfs", dir], { encoding: "utf8" });
  return run.status === 0 ? undefined : `mount refused: ${run.stderr.trim() || run.error?.message}`;
}

test("a full disk: one line naming the file, no half-written output, and a re-run with room equals a clean run", async (t) => {
  const dir = tempDir("mrl-full-");
  const inputs = fixtureRoot(tempDir("mrl-inputs-"));
  const inputBytes = [...fs.readdirSync(inputs)].reduce((sum, f) => sum + fs.statSync(path.join(inputs, f)).size, 0);
  // room for the arrays and a little more: the 64-d index file (DB x 64 x 4 bytes) does not fit
  const refused = mountTmpfs(dir, inputBytes + 400 * 1024);
  if (refused) return t.skip(refused);
  try {
    for (const f of fs.readdirSync(inputs)) fs.copyFileSync(path.join(inputs, f), path.join(dir, f));
    const full = retrieve(dir);
    assert.equal(full.status, 1);
    const lines = full.stderr.split("\n").filter((l) => l && !l.includes("[#") && !l.startsWith("note:"));
    assert.equal(lines.length, 1, full.stderr);
    assert.match(lines[0], /^error: \/.*: no space left on the device \(ENOSPC\)( writing [\d.]+ GB)?; free space there \(df -h .*\) or point --root\/--results at a larger disk, then run again: finished outputs are kept$/);
    assert.doesNotMatch(full.stderr, /\n\s+at /, "no stack trace");
    // whatever was written is whole: every output present equals a clean run's, and no temp file or stub stays
    const clean = reference();
    for (const [file, bytes] of outputs(dir)) {
      assert.ok(!/\.tmp$|\.partial$/.test(file), `${file} stayed behind`);
      assert.ok(clean.get(file) === bytes, `${file} is not a clean run's file`);
    }
    assert.equal(spawnSync("mount", ["-o", "remount,size=64m", dir]).status, 0);
    const again = retrieve(dir);
    assert.equal(again.status, 0, again.stderr);
    assert.deepEqual(outputs(dir), clean);
    // a read-only root: the same kind of line
    assert.equal(spawnSync("mount", ["-o", "remount,ro", dir]).status, 0);
    const readOnly = retrieve(dir, ["--force"]);
    assert.equal(readOnly.status, 1);
    assert.match(readOnly.stderr.trim().split("\n").pop()!, /^error: \/.*: the file system is read-only \(EROFS\); point --root\/--results at a writable folder/);
  } finally {
    spawnSync("umount", [dir]);
  }
});

test("shared holders (the shard tasks of one job) share a root and keep exclusive writers out", () => {
  const root = fixtureRoot();
  const internal = path.join(REPO, "lib", "dist", "internal.js");
  const tryLock = (shared: boolean) => spawnSync(process.execPath, ["-e",
    `const m = require(${JSON.stringify(internal)}); try { m.lockFolder(${JSON.stringify(root)}, { shared: ${shared}, wait: false }).release(); console.log("locked"); } catch (e) { console.log(e.message); }`],
  { encoding: "utf8" }).stdout.trim();
  const lock = lockFolder(root, { shared: true });
  try {
    assert.equal(tryLock(true), "locked");
    assert.match(tryLock(false), /in use by another process; not waiting/);
  } finally {
    lock.release();
  }
  assert.equal(tryLock(false), "locked");
});
