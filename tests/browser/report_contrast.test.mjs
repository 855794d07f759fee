// report_contrast.test.mjs - the colours of the report (web/report.js)
// against WCAG 2.1: every text colour on its background >= 4.5:1 (AA,
// normal text), the labels on heatmap cells (viridis and the diverging
// scale, 201 colours each) >= 4.5:1, series colours of the SVG charts >= 3:1
// on the white plot (1.4.11, graphical objects). The ratio itself is checked
// against published values first. Needs node only (no browser).
import fs from "node:fs";
import path from "node:path";
import vm from "node:vm";

const SRC = process.env.TSR_SOURCE_DIR;
const sandbox = { window: {} };
vm.createContext(sandbox);
vm.runInContext(fs.readFileSync(path.join(SRC, "web/report.js"), "utf8"), sandbox);
const T = sandbox.window.TesseraReport;

let failures = 0;
function check(cond, msg) {
  if (cond) console.log("ok   " + msg);
  else { console.log("FAIL " + msg); failures++; }
}
// published ratios: black on white 21:1, #777777 on white 4.48:1 (fails AA),
// #767676 4.54:1 (the lightest grey that passes)
check(Math.abs(T.contrast("#000000", "#ffffff") - 21) < 1e-9, "black on white = 21:1");
check(Math.abs(T.contrast("#777777", "#ffffff") - 4.48) < 0.005, `#777 on white = ${T.contrast("#777777", "#ffffff").toFixed(3)} (4.48)`);
check(Math.abs(T.contrast("#767676", "#ffffff") - 4.54) < 0.005, `#767676 on white = ${T.contrast("#767676", "#ffffff").toFixed(3)} (4.54)`);

check(T.textPairs.length >= 8, `${T.textPairs.length} text pairs listed`);
for (const [fg, bg, what] of T.textPairs) {
  const r = T.contrast(fg, bg);
  check(r >= 4.5, `${what}: ${fg} on ${bg} = ${r.toFixed(2)}:1 >= 4.5`);
}
// the CSS must use only the listed text colours
const css = fs.readFileSync(path.join(SRC, "web/report.css"), "utf8");
const listed = new Set(T.textPairs.map((p) => p[0].toLowerCase()));
const textColours = [...css.matchAll(/(?:^|[;{\s])color:\s*(#[0-9a-fA-F]{3,6})/g)].map((m) => m[1].toLowerCase())
  .map((c) => c.length === 4 ? "#" + c[1] + c[1] + c[2] + c[2] + c[3] + c[3] : c);
const unlisted = textColours.filter((c) => !listed.has(c));
check(textColours.length > 3 && unlisted.length === 0, `report.css text colours all checked (${[...new Set(textColours)].join(", ")}; unlisted: ${unlisted.join(", ")})`);
let worst = 99, at = "";
for (let i = 0; i <= 200; i++) {
  for (const bg of [T.viridis(i / 200), T.diverging(-1 + i / 100)]) {
    const r = T.contrast(bg, T.textOn(bg));
    if (r < worst) { worst = r; at = bg; }
  }
}
check(worst >= 4.5, `heatmap cell labels: worst ${worst.toFixed(2)}:1 (on ${at}) >= 4.5`);
for (const c of T.series) {
  const r = T.contrast(c, "#ffffff");
  check(r >= 3, `series colour ${c}: ${r.toFixed(2)}:1 >= 3 on white`);
}
if (failures) { console.log(`${failures} check(s) failed`); process.exit(1); }
console.log("all checks passed");
