/**
 * Static figure files and page checks through a real headless browser: Debian's chromium driven by
 * playwright-core (the only module that touches either). Figures are exported the way plotly's own image
 * export (kaleido) does it: Plotly.toImage inside a browser page, so PNG and SVG match what the notebook shows.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { writeFileAtomic } from "../core/atomic";
import { MrlError } from "../core/errors";
import { isFresh, recordArtifact } from "../io/manifest";
import { plotlyScriptTag, type Figure } from "./figures";

// Type-only import keeps playwright-core out of the load path of notebooks that never render files.
type Browser = import("playwright-core").Browser;
type Page = import("playwright-core").Page;

/** Flags that keep Chromium from reaching the network or asking for a GPU/sandbox this machine lacks. */
export const CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
  "--disable-component-update", "--disable-sync"];

/** Chromium from $MRL_CHROMIUM or Debian's package (installed by scripts/setup.sh). */
export function chromiumPath(): string {
  const candidates = [process.env.MRL_CHROMIUM, "/usr/bin/chromium", "/usr/bin/chromium-browser"].filter((p): p is string => !!p);
  const found = candidates.find((p) => fs.existsSync(p));
  if (!found) {
    throw new MrlError("Chromium not found; static figures and browser checks need the Debian package `chromium` " +
      "(run `npm run setup`, or set MRL_CHROMIUM to a Chromium binary)", candidates[0]);
  }
  return found;
}

/** Runs `work` with a headless Chromium and always closes it (no stray browser processes on errors). */
export async function withBrowser<T>(work: (browser: Browser) => Promise<T>): Promise<T> {
  const { chromium } = await import("playwright-core");
  const browser = await chromium.launch({ executablePath: chromiumPath(), args: CHROMIUM_ARGS });
  try {
    return await work(browser);
  } finally {
    await browser.close();
  }
}

/** Blocks every request that is not a local file or inline data, so a page that needs a CDN fails visibly. */
async function offlinePage(browser: Browser, viewport = { width: 1200, height: 900 }, deviceScaleFactor = 1): Promise<{ page: Page; consoleErrors: string[] }> {
  const page = await browser.newPage({ viewport, deviceScaleFactor });
  const consoleErrors: string[] = [];
  page.on("console", (m) => { if (m.type() === "error") consoleErrors.push(m.text()); });
  page.on("pageerror", (e) => consoleErrors.push(e.message));
  await page.route("**/*", (route) => {
    const url = route.request().url();
    return url.startsWith("file:") || url.startsWith("data:") || url.startsWith("about:") ? route.continue() : route.abort();
  });
  return { page, consoleErrors };
}

export type ImageFormat = "png" | "svg";

export interface FigureFile {
  name: string;
  figure: Figure;
}

/**
 * Writes `<outDir>/<name>.png` and `.svg` for every figure (one browser for all). PNGs are drawn at
 * `scale` x the layout size so they stay sharp in a report. Returns the files written.
 */
export async function renderFigureFiles(figures: FigureFile[], outDir: string,
  options: { formats?: ImageFormat[]; scale?: number } = {}): Promise<string[]> {
  const formats = options.formats ?? ["png", "svg"];
  const scale = options.scale ?? 2;
  const jobs = figures.flatMap(({ name, figure }) => formats.map((format) => {
    const layout = figure.layout as { width?: number; height?: number };
    const image = { format, width: layout.width ?? 760, height: layout.height ?? 480, scale: format === "png" ? scale : 1 };
    const call = `Plotly.toImage(${JSON.stringify({ data: figure.data, layout: figure.layout })}, ${JSON.stringify(image)})`;
    return { file: path.join(outDir, `${name}.${format}`), call };
  }));
  // A file drawn from the same figure before (by a notebook or an earlier report) is kept: no browser for it.
  const todo = jobs.filter((j) => !isFresh(j.file, "figure", { drawn: sha256(j.call) }, []));
  if (todo.length > 0) {
    await withBrowser(async (browser) => {
      const { page, consoleErrors } = await offlinePage(browser);
      await page.setContent(`<!doctype html><html><head><meta charset="utf-8">${plotlyScriptTag()}</head><body></body></html>`);
      for (const { file, call } of todo) {
        // In-page code is a string: this package compiles without DOM types.
        const dataUrl = (await page.evaluate(call)) as string;
        writeFileAtomic(file, decodeDataUrl(dataUrl, file));
        recordArtifact(file, "figure", { drawn: sha256(call) }, []);
      }
      if (consoleErrors.length) throw new MrlError(`the browser reported errors while drawing figures: ${consoleErrors.join("; ")}`, outDir);
    });
  }
  return jobs.map((j) => j.file);
}

const sha256 = (text: string): string => createHash("sha256").update(text).digest("hex");

/** Plotly.toImage returns base64 PNG or URI-encoded SVG data URLs. */
function decodeDataUrl(url: string, file: string): Buffer {
  const comma = url.indexOf(",");
  if (!url.startsWith("data:") || comma < 0) throw new MrlError(`the browser returned no image data (${url.slice(0, 40)})`, file);
  const header = url.slice(5, comma);
  const body = url.slice(comma + 1);
  return header.endsWith(";base64") ? Buffer.from(body, "base64") : Buffer.from(decodeURIComponent(body), "utf8");
}

export interface PageCheck {
  /** Figures found (elements with class `mrl-figure` or plotly's `js-plotly-plot`). */
  figures: number;
  /** Of those, how many hold a drawn plotly SVG with at least one trace. */
  renderedFigures: number;
  /** Console errors and uncaught exceptions, in order. */
  consoleErrors: string[];
  /** Images that failed to load (broken src). */
  brokenImages: number;
  screenshot?: string;
}

/**
 * Opens a local HTML file offline, waits for plotly to draw, and reports what rendered; optionally saves a
 * full-page screenshot. Used by the report test and handy for checking exported notebooks.
 */
export async function checkHtmlPage(htmlFile: string, options: { screenshot?: string } = {}): Promise<PageCheck> {
  if (!fs.existsSync(htmlFile)) throw new MrlError("HTML page not found", htmlFile);
  return withBrowser(async (browser) => {
    const { page, consoleErrors } = await offlinePage(browser);
    await page.goto(`file://${path.resolve(htmlFile)}`, { waitUntil: "load" });
    // Plotly draws synchronously after newPlot's promise; wait until every figure has its SVG (or time out).
    // Plotly draws after newPlot's promise resolves; wait until every figure has its SVG (or time out and report).
    await page.waitForFunction(`Array.from(document.querySelectorAll(".js-plotly-plot")).every((f) => f.querySelector("svg.main-svg"))`,
      undefined, { timeout: 30_000 }).catch(() => undefined);
    const counts = (await page.evaluate(`(() => {
      const all = Array.from(document.querySelectorAll(".mrl-figure, .js-plotly-plot"));
      const figs = all.filter((el) => !all.some((other) => other !== el && other.contains(el)));
      const rendered = figs.filter((f) => f.querySelector("svg.main-svg") && f.querySelectorAll(".scatterlayer .trace, .barlayer .trace").length > 0);
      const broken = Array.from(document.images).filter((img) => img.complete && img.naturalWidth === 0).length;
      return { figures: figs.length, rendered: rendered.length, broken };
    })()`)) as { figures: number; rendered: number; broken: number };
    let screenshot: string | undefined;
    if (options.screenshot) {
      const png = await page.screenshot({ fullPage: true, type: "png" });
      writeFileAtomic(options.screenshot, png);
      screenshot = options.screenshot;
    }
    return { figures: counts.figures, renderedFigures: counts.rendered, consoleErrors, brokenImages: counts.broken, screenshot };
  });
}

/** Screenshot of one element of an HTML string (e.g. the retrieval gallery) as a PNG file. */
export async function renderHtmlToPng(html: string, pngFile: string, selector = "body", options: { width?: number; scale?: number } = {}): Promise<string> {
  const drawn = { drawn: sha256(JSON.stringify([html, selector, options.width ?? 1200, options.scale ?? 1])) };
  if (isFresh(pngFile, "figure", drawn, [])) return pngFile; // the same page was drawn into it before
  await withBrowser(async (browser) => {
    const { page } = await offlinePage(browser, { width: options.width ?? 1200, height: 800 }, options.scale ?? 1);
    await page.setContent(html, { waitUntil: "load" });
    const element = await page.$(selector);
    if (!element) throw new MrlError(`no element matches ${selector}`, pngFile);
    writeFileAtomic(pngFile, await element.screenshot({ type: "png" }));
  });
  recordArtifact(pngFile, "figure", drawn, []);
  return pngFile;
}
