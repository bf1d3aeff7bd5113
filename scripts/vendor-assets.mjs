// Copy the built files of the front-end libraries from node_modules into
// netstats/static/vendor, where Flask serves them: no CDN at run time, nothing vendored in git.
import { cpSync, mkdirSync, rmSync, writeFileSync } from "node:fs";

const out = "netstats/static/vendor";
const files = {
  "bootstrap/dist/css/bootstrap.min.css": "bootstrap/bootstrap.min.css",
  "bootstrap/dist/css/bootstrap.min.css.map": "bootstrap/bootstrap.min.css.map",
  "bootstrap/dist/js/bootstrap.bundle.min.js": "bootstrap/bootstrap.bundle.min.js",
  "bootstrap/dist/js/bootstrap.bundle.min.js.map": "bootstrap/bootstrap.bundle.min.js.map",
  "bootstrap-icons/font/bootstrap-icons.min.css": "bootstrap-icons/bootstrap-icons.min.css",
  "bootstrap-icons/font/fonts": "bootstrap-icons/fonts",
  "chart.js/dist/chart.umd.min.js": "chart.js/chart.umd.min.js",
  // The bundle build carries the date-fns functions the adapter uses (date-fns is its peer).
  "chartjs-adapter-date-fns/dist/chartjs-adapter-date-fns.bundle.min.js":
    "chartjs-adapter-date-fns/chartjs-adapter-date-fns.bundle.min.js",
  // The zoom plugin's UMD build reads window.Hammer (touch pinch and pan), so hammer loads first.
  "hammerjs/hammer.min.js": "hammerjs/hammer.min.js",
  "chartjs-plugin-zoom/dist/chartjs-plugin-zoom.min.js": "chartjs-plugin-zoom/chartjs-plugin-zoom.min.js",
};

rmSync(out, { recursive: true, force: true });
for (const [from, to] of Object.entries(files)) {
  mkdirSync(`${out}/${to}`.replace(/\/[^/]+$/, ""), { recursive: true });
  cpSync(`node_modules/${from}`, `${out}/${to}`, { recursive: true });
}
// The stamp says every file is in place: `make assets` depends on it, and setup.py refuses to
// build a wheel without it.
writeFileSync(`${out}/.built`, `${Object.values(files).join("\n")}\n`);
console.log(`vendor assets copied to ${out}`);
