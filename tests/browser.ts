/**
 * A real browser for the tests that check what a person sees: headless Chromium (Debian's
 * `chromium`, or `$CHROMIUM`) driven by puppeteer-core. Without one, those tests are ignored and
 * a line says why. Each page records its console errors, uncaught exceptions, failed requests
 * and every URL it asked for.
 * @module
 */
import puppeteer, { type Browser, type Page } from "puppeteer-core";

const CANDIDATES = [Deno.env.get("CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser"];

/** The Chromium executable, or null when there is none. */
export const CHROMIUM: string | null = CANDIDATES.find((p) => {
  if (!p) return false;
  try {
    return Deno.statSync(p).isFile;
  } catch {
    return false;
  }
}) ?? null;

if (!CHROMIUM) {
  console.error(
    "browser tests skipped: no Chromium (apt-get install chromium, or set CHROMIUM=/path)",
  );
}

/** Runs `fn` with a fresh headless Chromium, closed afterwards. */
export async function withBrowser<T>(fn: (browser: Browser) => Promise<T>): Promise<T> {
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM!,
    headless: true,
    args: ["--headless=new", "--no-sandbox", "--disable-gpu"],
  });
  try {
    return await fn(browser);
  } finally {
    await browser.close();
  }
}

/** A page that records what went wrong on it and what it requested. */
export interface WatchedPage {
  /** The page. */
  page: Page;
  /** Console errors, uncaught exceptions and failed requests, as text. */
  errors: string[];
  /** Every URL the page requested. */
  requests: string[];
}

/** A new page of `browser` that records its errors and requests. */
export async function watchedPage(browser: Browser): Promise<WatchedPage> {
  const page = await browser.newPage();
  const errors: string[] = [], requests: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(`console: ${m.text()}`);
  });
  page.on("pageerror", (e) => errors.push(`exception: ${e}`));
  page.on("requestfailed", (r) => errors.push(`failed: ${r.url()} ${r.failure()?.errorText}`));
  page.on("request", (r) => void requests.push(r.url()));
  return { page, errors, requests };
}

/** `Deno.test` options of a browser test: ignored (with the line above) when there is none. */
export const BROWSER_TEST = {
  ignore: CHROMIUM === null,
  // puppeteer keeps its websocket and child process handles until the browser is closed.
  sanitizeOps: false,
  sanitizeResources: false,
};
