import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { REPO } from "./helpers";

// The README is the front door and docs/ holds the rest: a moved section must not leave a dead link behind.
const README_MAX_BYTES = 12_000;
const pages = ["README.md", ...fs.readdirSync(path.join(REPO, "docs")).filter((f) => f.endsWith(".md")).map((f) => `docs/${f}`)];
const read = (rel: string): string => fs.readFileSync(path.join(REPO, rel), "utf8");

/** Markdown text outside fenced code blocks and inline code, where links live. */
function prose(markdown: string): string {
  return markdown.replace(/^```[\s\S]*?^```/gm, "").replace(/`[^`\n]*`/g, "");
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to dashes, repeats numbered -1, -2, ... */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const line of markdown.replace(/^```[\s\S]*?^```/gm, "").split("\n")) {
    const m = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!m) continue;
    const base = m[1].toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, "").replace(/\s/g, "-");
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

/** Relative link targets `[text](target)` and images `![alt](target)` of one page. */
function relativeLinks(markdown: string): string[] {
  const targets = [...prose(markdown).matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)].map((m) => m[1]);
  return targets.filter((t) => !/^[a-z][a-z0-9+.-]*:/i.test(t));
}

test(`README.md is at most ${README_MAX_BYTES} bytes`, () => {
  const bytes = fs.statSync(path.join(REPO, "README.md")).size;
  assert.ok(bytes <= README_MAX_BYTES, `README.md is ${bytes} bytes; move detail into docs/`);
});

test("every relative link and #anchor in README.md and docs/*.md resolves", () => {
  const broken: string[] = [];
  for (const page of pages) {
    for (const link of relativeLinks(read(page))) {
      const [file, anchor] = link.split("#", 2);
      const target = file === "" ? page : path.posix.normalize(path.posix.join(path.posix.dirname(page), decodeURIComponent(file)));
      if (!fs.existsSync(path.join(REPO, target))) { broken.push(`${page}: ${link} (no file ${target})`); continue; }
      if (anchor !== undefined && !anchors(read(target)).has(anchor)) broken.push(`${page}: ${link} (no heading #${anchor} in ${target})`);
    }
  }
  assert.deepEqual(broken, []);
});

test("each doc starts with its own table of contents: links to its own ## headings", () => {
  for (const page of pages.filter((p) => p.startsWith("docs/"))) {
    const text = read(page);
    const firstHeading = text.search(/^## /m);
    assert.ok(firstHeading > 0, `${page} has no ## sections`);
    const own = anchors(text);
    const toc = new Set([...text.slice(0, firstHeading).matchAll(/\]\(#([^)]+)\)/g)].map((m) => m[1]));
    const sections = [...anchors(text.split("\n").filter((l) => l.startsWith("## ")).join("\n"))];
    for (const a of toc) assert.ok(own.has(a), `${page}: table of contents links #${a}, not a heading of the page`);
    assert.deepEqual(sections.filter((a) => !toc.has(a)), [], `${page}: sections missing from its table of contents`);
  }
});

test("the anchor rule matches GitHub's on this project's headings", () => {
  assert.deepEqual([...anchors("## Benchmark results (2026-11-29, after issue 13)\n## `.npy` arrays\n## A\n## A")],
    ["benchmark-results-2026-11-29-after-issue-13", "npy-arrays", "a", "a-1"]);
});
