// Time-series charts drawn as SVG: bars for counts, a band and a line for signal.
// Buckets come from the API in order, one per step, each with `start_ts` (seconds).

const SVG = "http://www.w3.org/2000/svg";
const WIDTH = 640;
const HEIGHT = 180;
const PAD = { left: 40, right: 8, top: 10, bottom: 22 };

function node(name, attrs = {}, text = null) {
  const el = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, String(value));
  if (text !== null) el.textContent = text;
  return el;
}

function frame(label) {
  const svg = node("svg", { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: "img", "aria-label": label });
  svg.append(node("title", {}, label));
  return svg;
}

function timeLabel(ts, step) {
  const date = new Date(ts * 1000);
  const iso = date.toISOString();
  if (step >= 86400) return iso.slice(5, 10);
  if (step >= 3600) return `${iso.slice(5, 10)} ${iso.slice(11, 13)}h`;
  return iso.slice(11, 16);
}

function niceMax(value) {
  if (value <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const factor of [1, 2, 2.5, 5, 10]) if (value <= factor * power) return factor * power;
  return 10 * power;
}

function axes(svg, buckets, step, low, high, unit) {
  const plotW = WIDTH - PAD.left - PAD.right;
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  for (const fraction of [0, 0.5, 1]) {
    const y = PAD.top + plotH * (1 - fraction);
    const value = low + (high - low) * fraction;
    svg.append(node("line", { class: "axis", x1: PAD.left, x2: WIDTH - PAD.right, y1: y, y2: y }));
    svg.append(node("text", { x: PAD.left - 4, y: y + 3, "text-anchor": "end" },
      `${Math.round(value)}${unit}`));
  }
  const ticks = Math.min(6, buckets.length);
  for (let i = 0; i < ticks; i++) {
    const index = Math.round((i * (buckets.length - 1)) / Math.max(1, ticks - 1));
    const x = PAD.left + (plotW * (index + 0.5)) / buckets.length;
    svg.append(node("text", { x, y: HEIGHT - 6, "text-anchor": "middle" },
      timeLabel(buckets[index].start_ts, step)));
  }
  return { plotW, plotH };
}

// Bars of `series[0].key` per bucket, and of `series[1].key` over them when given.
export function barChart(label, buckets, step, series) {
  const svg = frame(label);
  if (!buckets.length) return svg;
  const high = niceMax(Math.max(...buckets.map((b) => b[series[0].key])));
  const { plotW, plotH } = axes(svg, buckets, step, 0, high, "");
  const width = plotW / buckets.length;
  series.forEach((one, n) => {
    buckets.forEach((bucket, i) => {
      const value = bucket[one.key];
      if (!value) return;
      const h = (plotH * value) / high;
      const inset = n ? width * 0.25 : 0;
      const bar = node("rect", {
        class: n ? "bar alt" : "bar",
        x: PAD.left + i * width + inset,
        y: PAD.top + plotH - h,
        width: Math.max(0.8, width - 0.6 - 2 * inset),
        height: h,
      });
      bar.append(node("title", {}, `${timeLabel(bucket.start_ts, step)}: ${value} ${one.name}`));
      svg.append(bar);
    });
  });
  return svg;
}

// The signal per bucket: a band from the weakest to the strongest probe, the average as a line.
export function signalChart(label, buckets, step) {
  const svg = frame(label);
  const measured = buckets.filter((b) => b.rssi_avg_dbm !== null);
  if (!measured.length) return svg;
  const low = Math.floor(Math.min(...measured.map((b) => b.rssi_min_dbm)) / 10) * 10;
  const high = Math.min(0, Math.ceil(Math.max(...measured.map((b) => b.rssi_max_dbm)) / 10) * 10);
  const top = high === low ? low + 10 : high;
  const { plotW, plotH } = axes(svg, buckets, step, low, top, "");
  const width = plotW / buckets.length;
  const y = (dbm) => PAD.top + plotH * (1 - (dbm - low) / (top - low));
  const points = [];
  buckets.forEach((bucket, i) => {
    if (bucket.rssi_avg_dbm === null) return;
    const x = PAD.left + (i + 0.5) * width;
    const band = node("rect", {
      class: "band",
      x: PAD.left + i * width,
      y: y(bucket.rssi_max_dbm),
      width: Math.max(0.8, width - 0.6),
      height: Math.max(1, y(bucket.rssi_min_dbm) - y(bucket.rssi_max_dbm)),
    });
    band.append(node("title", {},
      `${timeLabel(bucket.start_ts, step)}: ${bucket.rssi_min_dbm} to ${bucket.rssi_max_dbm} dBm`));
    svg.append(band);
    points.push(`${x.toFixed(1)},${y(bucket.rssi_avg_dbm).toFixed(1)}`);
  });
  svg.append(node("polyline", { class: "line", points: points.join(" ") }));
  return svg;
}
