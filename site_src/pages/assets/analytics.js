/*
 * Draws every chart of a page from its JSON data file with Chart.js.
 *
 * Each <section class="pa-chart"> holds a canvas and one .pa-view per data file (a second
 * one is the X.Y.Z switch of a version chart); its table and links work without this script.
 * Strings from the data (versions, labels) only ever reach the canvas or textContent.
 * When every chart has been drawn, <html> gets data-charts-drawn="true" and the
 * performance mark "pa-charts-drawn" is set (the browser tests and the benchmark wait for it).
 */
(function () {
  "use strict";

  const PALETTE = [
    "#3f51b5", "#e91e63", "#009688", "#ff9800", "#9c27b0", "#4caf50", "#f44336",
    "#03a9f4", "#795548", "#c0ca33", "#673ab7", "#ffb300", "#00acc1", "#7cb342",
    "#ff5722", "#546e7a", "#1e88e5", "#ad1457", "#827717", "#6d4c41",
  ];
  const OTHER = "other";
  const OTHER_COLOR = "#9e9e9e";
  const DAY_MS = 86400000;
  const TIME_SERIES = new Set([
    "versions_over_time", "buckets_over_time", "means_over_time", "systems_over_time",
  ]);
  const STACKED = new Set(["versions_over_time", "buckets_over_time"]);

  let waiting = 0;

  function colorOf(index, label) {
    return label === OTHER ? OTHER_COLOR : PALETTE[index % PALETTE.length];
  }

  function translucent(hex, alpha) {
    const n = parseInt(hex.slice(1), 16);
    return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
  }

  function daysBefore(iso, days) {
    return new Date(Date.parse(iso + "T00:00:00Z") - days * DAY_MS).toISOString().slice(0, 10);
  }

  function hasData(kind, data) {
    const datasets = data.datasets || [];
    if (kind === "demography") return datasets.length > 0 && datasets[0].data.length > 0;
    return datasets.length > 0 && (data.labels || []).length > 0;
  }

  function styled(kind, data) {
    if (kind === "newest_pie") {
      data.datasets.forEach((ds) => {
        ds.backgroundColor = data.labels.map((label, i) => colorOf(i, label));
      });
      return data;
    }
    data.datasets.forEach((ds, i) => {
      const color = colorOf(i, ds.label);
      const filled = STACKED.has(kind) || ds.fill === true;
      ds.borderColor = color;
      ds.backgroundColor = filled ? translucent(color, 0.6) : color;
      ds.borderWidth = 1.5;
      ds.pointRadius = 0;
      ds.pointHoverRadius = 3;
      if (kind === "demography" && ds.label === "count") ds.yAxisID = "perAge";
    });
    return data;
  }

  function totalFooter(items) {
    const total = items.reduce((sum, item) => sum + (item.parsed.y || 0), 0);
    return "total: " + total.toLocaleString();
  }

  function optionsFor(kind) {
    const options = {
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      plugins: { legend: { position: "bottom", labels: { boxWidth: 12 } } },
    };
    if (kind === "newest_pie") return options;
    options.interaction = { mode: kind === "demography" ? "nearest" : "index", intersect: false };
    if (kind === "demography") {
      options.interaction.axis = "x";
      options.scales = {
        x: { type: "linear", title: { display: true, text: "system age (days)" } },
        y: { beginAtZero: true, title: { display: true, text: "systems at least that old" } },
        perAge: {
          beginAtZero: true,
          position: "right",
          grid: { drawOnChartArea: false },
          title: { display: true, text: "systems of that age" },
        },
      };
      return options;
    }
    options.normalized = true;
    options.scales = {
      x: {
        type: "time",
        time: { minUnit: "day", tooltipFormat: "yyyy-MM-dd" },
        ticks: { maxRotation: 0, autoSkipPadding: 12 },
      },
      y: { beginAtZero: true, stacked: STACKED.has(kind) },
    };
    if (STACKED.has(kind)) options.plugins.tooltip = { callbacks: { footer: totalFooter } };
    return options;
  }

  function finished(section, state) {
    if (section.dataset.drawn) return;
    section.dataset.drawn = state;
    waiting -= 1;
    if (waiting === 0) {
      document.documentElement.dataset.chartsDrawn = "true";
      performance.mark("pa-charts-drawn");
      window.dispatchEvent(new Event("pa-charts-drawn"));
    }
  }

  const drawnSignal = {
    id: "paDrawn",
    afterRender(chart) {
      const section = chart.canvas.closest(".pa-chart");
      if (section) finished(section, "true");
    },
  };

  // The data file's "annotations" (SPEC §10), e.g. where the history imported from the old
  // site ends: a dashed vertical line at the date across a time chart, its label at the top.
  // They sit beside "datasets", so they never become a series; drawn only inside the x range.
  const MARK_COLOR = "#616161";
  const annotationMarks = {
    id: "paAnnotations",
    afterDatasetsDraw(chart) {
      const marks = chart.data.annotations || [];
      const x = chart.scales.x;
      if (marks.length === 0 || !x || x.type !== "time") return;
      const { ctx, chartArea } = chart;
      marks.forEach((mark) => {
        const value = x.parse(mark.date);
        if (value === null || value < x.min || value > x.max) return;
        const px = x.getPixelForValue(value);
        ctx.save();
        ctx.strokeStyle = MARK_COLOR;
        ctx.fillStyle = MARK_COLOR;
        ctx.lineWidth = 1.5;
        ctx.setLineDash([5, 4]);
        ctx.beginPath();
        ctx.moveTo(px, chartArea.top);
        ctx.lineTo(px, chartArea.bottom);
        ctx.stroke();
        ctx.font = "12px sans-serif";
        ctx.textBaseline = "top";
        const width = ctx.measureText(mark.label).width;
        const room = chartArea.right - px - 6 >= width;
        const left = room ? px + 4 : px - 4 - width;
        ctx.fillStyle = "rgba(255, 255, 255, 0.85)";
        ctx.fillRect(left - 2, chartArea.top + 2, width + 4, 16);
        ctx.fillStyle = MARK_COLOR;
        ctx.fillText(mark.label, left, chartArea.top + 4);
        ctx.restore();
      });
    },
  };

  async function fetchJson(url) {
    const response = await fetch(url);
    if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
    return response.json();
  }

  function showMessage(section, text) {
    const box = section.querySelector(".pa-canvas");
    const message = document.createElement("p");
    message.className = "pa-message";
    message.textContent = text;
    box.replaceChildren(message);
  }

  function setPressed(buttons, pressed) {
    buttons.forEach((b) => b.setAttribute("aria-pressed", String(b === pressed)));
  }

  function applyRange(chart, range) {
    const x = chart.options.scales.x;
    const labels = chart.data.labels;
    if (range === "all" || labels.length === 0) {
      delete x.min;
      delete x.max;
    } else {
      const newest = labels[labels.length - 1];
      x.min = daysBefore(newest, Number(range) - 1);
      x.max = newest;
    }
  }

  async function setUp(section) {
    const kind = section.dataset.kind;
    const views = Array.from(section.querySelectorAll(".pa-view"));
    const cache = new Map();
    const load = (i) => {
      if (!cache.has(i)) cache.set(i, fetchJson(views[i].dataset.src).then((d) => styled(kind, d)));
      return cache.get(i);
    };
    const data = await load(0);
    if (!hasData(kind, data)) {
      showMessage(section, "No data yet.");
      finished(section, "empty");
      return;
    }
    const canvas = section.querySelector("canvas");
    const chart = new window.Chart(canvas, {
      type: kind === "newest_pie" ? "pie" : "line",
      data: data,
      options: optionsFor(kind),
      plugins: [drawnSignal, annotationMarks],
    });
    let range = "all";
    const controls = section.querySelector(".pa-controls");
    if (!controls) return;
    controls.hidden = false;
    const rangeButtons = Array.from(controls.querySelectorAll("button[data-range]"));
    rangeButtons.forEach((button) =>
      button.addEventListener("click", () => {
        range = button.dataset.range;
        setPressed(rangeButtons, button);
        applyRange(chart, range);
        chart.update("none");
      }),
    );
    const viewButtons = Array.from(controls.querySelectorAll("button[data-view]"));
    views.forEach((view, i) => {
      view.hidden = i !== 0;
    });
    viewButtons.forEach((button) =>
      button.addEventListener("click", async () => {
        const index = Number(button.dataset.view);
        chart.data = await load(index);
        setPressed(viewButtons, button);
        views.forEach((view, i) => {
          view.hidden = i !== index;
        });
        if (TIME_SERIES.has(kind)) applyRange(chart, range);
        chart.update("none");
      }),
    );
  }

  function start() {
    const sections = Array.from(document.querySelectorAll("section.pa-chart"));
    waiting = sections.length;
    if (typeof window.Chart !== "function") {
      console.error("Chart.js did not load");
      return;
    }
    if (waiting === 0) {
      document.documentElement.dataset.chartsDrawn = "true";
      return;
    }
    sections.forEach((section) =>
      setUp(section).catch((error) => {
        console.error(`chart ${section.id}: ${error.message}`);
        showMessage(section, "This chart could not be loaded; the table below has its data.");
        finished(section, "error");
      }),
    );
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
