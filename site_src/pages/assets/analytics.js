/*
 * Draws every chart of a page from its JSON data file with Chart.js.
 *
 * Each <section class="pa-chart"> holds a canvas and one .pa-view per data file (a second
 * one is the X.Y.Z switch of a version chart); its short table and links work without this
 * script. Strings from the data (versions, labels) only ever reach the canvas or textContent.
 *
 * The parts, in order:
 *   KINDS    how each kind of data file is drawn (one entry per kind of builder/site/charts.py)
 *   theme    series colours from the CSS custom properties (light and dark schemes)
 *   values   tooltips, percentages, totals
 *   urlState the view of every chart in the URL fragment, restored on load
 *   Figure   one chart: its controls, its HTML legend, keyboard reading, redraws
 *   filters  search boxes that hide the rows of a table (the components index)
 *   start    finds the charts and filters, follows the colour scheme and the fragment
 *
 * window.pulpAnalytics exposes KINDS, the Chart.js plugins given to every chart (a script
 * loaded after this one may add to both before the page has loaded) and the figures.
 * When every chart has been drawn, <html> gets data-charts-drawn="true" and the
 * performance mark "pa-charts-drawn" is set (the browser tests and the benchmark wait for it).
 */
(function () {
  "use strict";

  const DAY_MS = 86400000;
  const OTHER = "other";
  const DEFAULT_STATE = Object.freeze({ range: "all", view: 0, pct: false });

  // -- KINDS: how each kind of chart data is drawn ---------------------------------------------
  //
  // chart: the Chart.js type; time: x is a day (range control, URL "range"); stacked: areas
  // stacked with a total (percent control, URL "pct"); percent: the values are percentages
  // (y from 0 to 100 %); scales: its own Chart.js scales; title: a tooltip's title from the
  // point's label; palette: which series colours, in order (lines take the two with the most
  // contrast); decimals: of the values in tooltips; ranges: each point is a bucket, from its
  // value up to the dataset's "high" (drawn as a band), named by its "ranges" in tooltips.

  const LINES = [7, 2, 3, 5];

  const KINDS = {
    versions_over_time: { chart: "line", time: true, stacked: true },
    buckets_over_time: { chart: "line", time: true, stacked: true },
    systems_over_time: { chart: "line", time: true, palette: LINES },
    means_over_time: { chart: "line", time: true, decimals: 2, palette: LINES },
    demography: {
      chart: "line",
      scales: demographyScales,
      interaction: "nearest",
      palette: LINES,
    },
    newest_pie: { chart: "pie" },
    shares_over_time: { chart: "line", time: true, percent: true, decimals: 1 },
    percentiles_over_time: { chart: "line", time: true, palette: LINES, ranges: true },
    adoption_curves: {
      chart: "line",
      scales: adoptionScales,
      percent: true,
      decimals: 1,
      title: sinceFirstSeen,
    },
  };

  function axis(colors, text, extra) {
    return {
      beginAtZero: true,
      title: { display: true, text: text, color: colors.text },
      ticks: { color: colors.text },
      grid: { color: colors.grid },
      ...extra,
    };
  }

  function demographyScales(colors) {
    return {
      x: { ...axis(colors, "system age (days)"), type: "linear" },
      y: axis(colors, "systems at least that old"),
      perAge: axis(colors, "systems of that age", {
        position: "right",
        grid: { drawOnChartArea: false },
      }),
    };
  }

  const percentTicks = (value) => `${value} %`;

  /** Adoption curves: days since a release was first seen, against its share of systems. */
  function adoptionScales(colors) {
    const y = axis(colors, "share of the component's systems", { max: 100 });
    y.ticks.callback = percentTicks;
    const x = axis(colors, "days since first seen", { type: "linear", bounds: "data" });
    return { x: x, y: y };
  }

  function sinceFirstSeen(label) {
    const days = Number(label);
    if (days === 0) return "the day it was first seen";
    return `${days} day${days === 1 ? "" : "s"} after it was first seen`;
  }

  const plugins = [];
  const figures = [];
  window.pulpAnalytics = { kinds: KINDS, plugins: plugins, figures: figures };

  // The data file's "annotations" (SPEC §10), e.g. where the history imported from the old
  // site ends: a dashed vertical line at the date across a time chart, its label at the top
  // on a backing in the page's colour. They sit beside "datasets", so they never become a
  // series; drawn only inside the x range, in the colour scheme's text colour.
  plugins.push({
    id: "paAnnotations",
    afterDatasetsDraw(chart) {
      const marks = chart.data.annotations || [];
      const x = chart.scales.x;
      if (marks.length === 0 || !x || x.type !== "time") return;
      const colors = themeColors();
      const { ctx, chartArea } = chart;
      marks.forEach((mark) => {
        const value = x.parse(mark.date);
        if (value === null || value < x.min || value > x.max) return;
        const px = x.getPixelForValue(value);
        ctx.save();
        ctx.strokeStyle = colors.text;
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
        ctx.globalAlpha = 0.85;
        ctx.fillStyle = colors.background || "#ffffff";
        ctx.fillRect(left - 2, chartArea.top + 2, width + 4, 16);
        ctx.globalAlpha = 1;
        ctx.fillStyle = colors.text;
        ctx.fillText(mark.label, left, chartArea.top + 4);
        ctx.restore();
      });
    },
  });

  // The data file's "levels" (percentages, such as 10 and 50 on adoption curves): a dotted
  // line across the chart at each, labelled at its right end.
  plugins.push({
    id: "paLevels",
    afterDatasetsDraw(chart) {
      const levels = chart.data.levels || [];
      const y = chart.scales.y;
      if (levels.length === 0 || !y) return;
      const colors = themeColors();
      const { ctx, chartArea } = chart;
      levels.forEach((level) => {
        if (level < y.min || level > y.max) return;
        const py = y.getPixelForValue(level);
        ctx.save();
        ctx.strokeStyle = colors.text;
        ctx.lineWidth = 1;
        ctx.setLineDash([2, 3]);
        ctx.beginPath();
        ctx.moveTo(chartArea.left, py);
        ctx.lineTo(chartArea.right, py);
        ctx.stroke();
        ctx.font = "12px sans-serif";
        ctx.textAlign = "right";
        ctx.textBaseline = "bottom";
        ctx.fillStyle = colors.text;
        ctx.fillText(`${level} %`, chartArea.right - 4, py - 2);
        ctx.restore();
      });
    },
  });

  // A dataset's "high" (percentiles_over_time: each point is a bucket such as 5-8, drawn from
  // its lowest number, 5): a pale band from each point up to its bucket's highest number, 8, or
  // to the top of the chart for an open-ended bucket ("33 or more", high null). A point whose
  // bucket is one number has no band; a hidden series hides its band.
  plugins.push({
    id: "paBands",
    beforeDatasetsDraw(chart) {
      const y = chart.scales.y;
      if (!y) return;
      const { ctx, chartArea } = chart;
      chart.data.datasets.forEach((ds, i) => {
        if (!Array.isArray(ds.high) || !chart.isDatasetVisible(i)) return;
        const points = chart.getDatasetMeta(i).data;
        const top = (j) => (ds.high[j] === null ? chartArea.top : y.getPixelForValue(ds.high[j]));
        ctx.save();
        ctx.beginPath();
        ctx.rect(chartArea.left, chartArea.top, chartArea.width, chartArea.height);
        ctx.clip();
        ctx.fillStyle = rgba(String(ds.borderColor || "#888888"), 0.2);
        let run = [];
        const flush = () => {
          if (run.length) {
            ctx.beginPath();
            run.forEach((j, k) => (k ? ctx.lineTo : ctx.moveTo).call(ctx, points[j].x, top(j)));
            run
              .slice()
              .reverse()
              .forEach((j) => ctx.lineTo(points[j].x, points[j].y));
            ctx.closePath();
            ctx.fill();
          }
          run = [];
        };
        ds.data.forEach((value, j) => {
          if (value === null || value === undefined || !points[j]) flush();
          else run.push(j);
        });
        flush();
        ctx.restore();
      });
    },
  });

  // -- theme: colours from CSS -----------------------------------------------------------------

  function themeColors() {
    const style = getComputedStyle(document.body);
    const read = (name) => style.getPropertyValue(name).trim();
    const series = [];
    for (let i = 0; read(`--pa-series-${i}`); i += 1) series.push(read(`--pa-series-${i}`));
    return {
      series: series,
      other: read("--pa-series-other"),
      alpha: Number(read("--pa-fill-alpha")) || 0.8,
      text: read("--pa-chart-text"),
      grid: read("--pa-chart-grid"),
      background: read("--md-default-bg-color"),
    };
  }

  function rgba(hex, alpha) {
    const n = parseInt(hex.slice(1), 16);
    return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
  }

  /** Diagonal stripes of `hex` over a paler fill: the mark of a range of versions. */
  function hatch(hex, alpha, flip) {
    const size = 8;
    const scale = window.devicePixelRatio || 1;
    const tile = document.createElement("canvas");
    tile.width = tile.height = size * scale;
    const g = tile.getContext("2d");
    g.scale(scale, scale);
    g.fillStyle = rgba(hex, alpha * 0.35);
    g.fillRect(0, 0, size, size);
    g.strokeStyle = rgba(hex, Math.min(1, alpha + 0.15));
    g.lineWidth = 2.5;
    g.beginPath();
    for (const shift of [-size, 0, size]) {
      g.moveTo(flip ? shift : shift + size, 0);
      g.lineTo(flip ? shift + size : shift, size);
    }
    g.stroke();
    return g.createPattern(tile, "repeat");
  }

  /** The CSS background of a legend swatch, the same marks as on the canvas. */
  function swatchCss(hex, alpha, grouped, flip) {
    if (!grouped) return rgba(hex, alpha);
    const angle = flip ? "45deg" : "-45deg";
    const pale = rgba(hex, alpha * 0.35);
    return `repeating-linear-gradient(${angle}, ${rgba(hex, 1)} 0 2px, ${pale} 2px 5px)`;
  }

  /** Colour and marks of the series at `index`: ranges of versions and "other" are hatched,
   * and the colours repeat with the stripes the other way round. */
  function seriesLook(colors, index, label, grouped, palette) {
    const n = colors.series.length;
    const at = palette ? palette[index % palette.length] : index % n;
    const hex = label === OTHER ? colors.other : colors.series[at];
    const flip = Math.floor(index / n) % 2 === 1;
    return { hex: hex, grouped: grouped || label === OTHER, flip: flip };
  }

  function style(figure) {
    const colors = themeColors();
    const data = figure.chart.data;
    const spec = figure.spec;
    if (spec.chart === "pie") {
      // Slices past the eighth repeat the colours, hatched.
      const n = colors.series.length;
      const looks = data.labels.map((label, i) => seriesLook(colors, i, label, i >= n));
      data.datasets.forEach((ds) => {
        ds.backgroundColor = looks.map((l) => (l.grouped ? hatch(l.hex, 1, l.flip) : l.hex));
        ds.borderColor = colors.background;
      });
      figure.looks = looks;
    } else {
      figure.looks = data.datasets.map((ds, i) => {
        const grouped = Array.isArray(ds.versions);
        const look = seriesLook(colors, i, ds.label, grouped, spec.palette);
        const filled = spec.stacked || ds.fill === true;
        ds.borderColor = look.hex;
        ds.backgroundColor = !filled
          ? look.hex
          : look.grouped
            ? hatch(look.hex, colors.alpha, look.flip)
            : rgba(look.hex, colors.alpha);
        ds.borderWidth = filled ? 1 : 2;
        ds.pointRadius = 0;
        ds.pointHoverRadius = 3;
        if (figure.kind === "demography" && ds.label === "count") ds.yAxisID = "perAge";
        return look;
      });
    }
    figure.colors = colors;
    return colors;
  }

  // -- values: tooltips, percentages, totals -----------------------------------------------------

  function countOf(item) {
    const ds = item.dataset;
    if (Array.isArray(ds.counts)) return ds.counts[item.dataIndex];
    return typeof item.parsed === "number" ? item.parsed : item.parsed.y;
  }

  function shown(value) {
    return value !== null && value !== undefined && value !== 0 && !Number.isNaN(value);
  }

  /** A value for people: up to `decimals` decimals, or exactly that many when `fixed`. */
  function format(value, decimals, fixed) {
    if (value === null || value === undefined) return "n/a";
    const digits = decimals || 0;
    return value.toLocaleString("en", {
      minimumFractionDigits: fixed ? digits : 0,
      maximumFractionDigits: digits,
    });
  }

  /** Each day's total over all series, and every series as a percentage of it. */
  function addPercentages(data) {
    const totals = data.labels.map((_, i) =>
      data.datasets.reduce((sum, ds) => sum + (ds.counts[i] || 0), 0),
    );
    data.datasets.forEach((ds) => {
      ds.percent = ds.counts.map((n, i) => (totals[i] ? (100 * (n || 0)) / totals[i] : null));
    });
    data.totals = totals;
  }

  function tooltipOptions(figure) {
    const spec = figure.spec;
    const unit = spec.percent ? " %" : "";
    const title = spec.title
      ? { title: (items) => (items.length ? spec.title(items[0].label) : "") }
      : {};
    return {
      itemSort: (a, b) => (countOf(b) || 0) - (countOf(a) || 0),
      // A stack or a pie lists only what is there; a line's 0 is a value of its own.
      filter: (item) => {
        const value = countOf(item);
        return spec.stacked || spec.chart === "pie" ? shown(value) : value != null;
      },
      callbacks: {
        ...title,
        label(item) {
          const label = spec.chart === "pie" ? item.label : item.dataset.label;
          if (spec.ranges && Array.isArray(item.dataset.ranges)) {
            return `${label}: ${item.dataset.ranges[item.dataIndex]}`;
          }
          const count = format(countOf(item), spec.decimals, spec.percent);
          if (figure.state.pct && spec.stacked) {
            return `${label}: ${format(item.parsed.y, 1)} % (${count})`;
          }
          return `${label}: ${count}${unit}`;
        },
        footer(items) {
          if (!spec.stacked || items.length === 0) return "";
          return "total: " + format(figure.chart.data.totals[items[0].dataIndex]);
        },
      },
    };
  }

  // -- urlState: "#chart-a:range=90,view=1,pct=1&chart-b:range=30" ----------------------------

  const urlState = {
    /** The states named in a fragment, by chart id, in their order. */
    parse(hash) {
      const states = new Map();
      let text = "";
      try {
        text = decodeURIComponent((hash || "").replace(/^#/, ""));
      } catch (error) {
        return states; // not a fragment this page wrote: nothing to restore
      }
      for (const entry of text.split("&")) {
        const colon = entry.indexOf(":");
        if (colon < 1) continue;
        const state = { ...DEFAULT_STATE };
        for (const pair of entry.slice(colon + 1).split(",")) {
          const [key, value] = pair.split("=");
          if (key === "range" && /^(\d+|all)$/.test(value)) state.range = value;
          if (key === "view" && /^\d+$/.test(value)) state.view = Number(value);
          if (key === "pct") state.pct = value === "1";
        }
        states.set(entry.slice(0, colon), state);
      }
      return states;
    },

    /** One chart's entry, or its bare id when it shows the default view. */
    entry(id, state) {
      const parts = [];
      if (state.range !== DEFAULT_STATE.range) parts.push(`range=${state.range}`);
      if (state.view !== DEFAULT_STATE.view) parts.push(`view=${state.view}`);
      if (state.pct) parts.push("pct=1");
      return parts.length ? `${id}:${parts.join(",")}` : id;
    },

    /** Put every chart's state in the URL, `first` first (the page opens at it). */
    write(first) {
      const entries = figures
        .filter((f) => f !== first)
        .map((f) => urlState.entry(f.id, f.state))
        .filter((e) => e.includes(":"));
      const own = urlState.entry(first.id, first.state);
      if (own.includes(":")) entries.unshift(own);
      const hash = entries.length ? "#" + entries.join("&") : "";
      if (hash !== location.hash) {
        history.replaceState(history.state, "", location.pathname + location.search + hash);
      }
    },
  };

  // -- Figure: one chart and its controls ------------------------------------------------------

  let waiting = 0;

  function finished(section, state) {
    if (section.dataset.drawn) return;
    section.dataset.drawn = state;
    waiting -= 1;
    if (waiting === 0) allDrawn();
  }

  function allDrawn() {
    document.documentElement.dataset.chartsDrawn = "true";
    performance.mark("pa-charts-drawn");
  }

  const drawnSignal = {
    id: "paDrawn",
    afterRender(chart) {
      const section = chart.canvas.closest(".pa-chart");
      if (section) finished(section, "true");
    },
  };

  async function fetchJson(url) {
    const response = await fetch(url);
    if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
    return response.json();
  }

  function hasData(kind, data) {
    const datasets = data.datasets || [];
    if (kind === "demography") return datasets.length > 0 && datasets[0].data.length > 0;
    return datasets.length > 0 && (data.labels || []).length > 0;
  }

  function daysBefore(iso, days) {
    return new Date(Date.parse(iso + "T00:00:00Z") - days * DAY_MS).toISOString().slice(0, 10);
  }

  function setPressed(buttons, test) {
    buttons.forEach((b) => b.setAttribute("aria-pressed", String(test(b))));
  }

  class Figure {
    constructor(section) {
      this.section = section;
      this.id = section.id;
      this.kind = section.dataset.kind;
      this.spec = KINDS[this.kind];
      this.views = Array.from(section.querySelectorAll(".pa-view"));
      this.cache = new Map();
      this.state = { ...DEFAULT_STATE };
      this.chart = null;
      this.active = -1; // the index read out by the keyboard, -1 when none
    }

    load(index) {
      if (!this.cache.has(index)) {
        const prepare = (data) => {
          if (this.spec.stacked && hasData(this.kind, data)) {
            data.datasets.forEach((ds) => {
              ds.counts = ds.data.slice();
            });
            addPercentages(data);
          }
          return data;
        };
        this.cache.set(index, fetchJson(this.views[index].dataset.src).then(prepare));
      }
      return this.cache.get(index);
    }

    /** The state this figure can show: ranges, views and controls it lacks are dropped. */
    valid(state) {
      const out = { ...DEFAULT_STATE };
      const ranges = Array.from(this.section.querySelectorAll("button[data-range]"));
      if (this.spec.time && ranges.some((b) => b.dataset.range === state.range)) {
        out.range = state.range;
      }
      if (state.view < this.views.length) out.view = state.view;
      out.pct = Boolean(this.spec.stacked && state.pct);
      return out;
    }

    async init(state) {
      if (!this.spec) throw new Error(`unknown chart kind ${this.kind}`);
      this.state = this.valid(state);
      const data = await this.load(this.state.view);
      if (!hasData(this.kind, data)) {
        this.message(this.section.dataset.empty || "No data yet.");
        finished(this.section, "empty");
        return;
      }
      this.chart = new window.Chart(this.section.querySelector("canvas"), {
        type: this.spec.chart,
        data: data,
        options: this.options(),
        plugins: [drawnSignal, ...plugins],
      });
      this.show(data);
      this.controls();
      this.keyboard();
      this.legend();
    }

    options() {
      const colors = themeColors();
      const spec = this.spec;
      const options = {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        color: colors.text,
        plugins: { legend: { display: false }, tooltip: tooltipOptions(this) },
      };
      if (spec.chart === "pie") return options;
      options.interaction = { mode: spec.interaction || "index", intersect: false, axis: "x" };
      if (spec.scales) {
        options.scales = spec.scales(colors);
        return options;
      }
      options.normalized = true;
      options.scales = {
        x: {
          type: "time",
          time: { minUnit: "day", tooltipFormat: "yyyy-MM-dd" },
          ticks: { maxRotation: 0, autoSkipPadding: 12, color: colors.text },
          grid: { color: colors.grid },
        },
        y: {
          beginAtZero: true,
          stacked: Boolean(spec.stacked),
          ticks: { color: colors.text },
          grid: { color: colors.grid },
        },
      };
      if (spec.percent) {
        options.scales.y.max = 100;
        options.scales.y.ticks.callback = percentTicks;
      }
      return options;
    }

    /** Draw `data` in the current state: values or percentages, the range, the colours. */
    show(data) {
      const chart = this.chart;
      if (this.spec.stacked) {
        data.datasets.forEach((ds) => {
          ds.data = this.state.pct ? ds.percent : ds.counts;
        });
        const y = chart.options.scales.y;
        if (this.state.pct) {
          y.max = 100;
          y.ticks.callback = percentTicks;
        } else {
          delete y.max;
          delete y.ticks.callback;
        }
      }
      chart.data = data;
      if (this.spec.ranges) {
        // The bands reach each bucket's highest number, and an open-ended bucket ("33 or
        // more") reaches the top: the axis shows them, with room above an open one.
        const tops = data.datasets.flatMap((ds) =>
          (ds.high || []).map((high, i) => (high === null ? 2 * ds.data[i] : high)),
        );
        const finite = tops.filter((v) => typeof v === "number" && v > 0);
        chart.options.scales.y.suggestedMax = finite.length ? Math.max(...finite) : undefined;
      }
      style(this);
      if (this.spec.time) this.applyRange();
      chart.update();
      this.views.forEach((view, i) => {
        view.hidden = i !== this.state.view;
      });
      this.legend();
    }

    applyRange() {
      const x = this.chart.options.scales.x;
      const labels = this.chart.data.labels;
      if (this.state.range === "all" || labels.length === 0) {
        delete x.min;
        delete x.max;
      } else {
        const newest = labels[labels.length - 1];
        x.min = daysBefore(newest, Number(this.state.range) - 1);
        x.max = newest;
      }
    }

    /** Indexes of the data points inside the shown range (every point when x is not days). */
    visibleIndexes() {
      const labels = this.chart.data.labels || [];
      const x = this.chart.options.scales.x || {};
      if (!this.spec.time) {
        return (labels.length ? labels : this.chart.data.datasets[0].data).map((_, i) => i);
      }
      const inside = (i) => !x.min || (labels[i] >= x.min && labels[i] <= x.max);
      return labels.map((_, i) => i).filter(inside);
    }

    async set(change, fromUrl) {
      const next = this.valid({ ...this.state, ...change });
      const viewChanged = next.view !== this.state.view;
      this.state = next;
      if (this.chart) {
        const data = viewChanged ? await this.load(next.view) : this.chart.data;
        this.show(data);
        this.pressButtons();
      }
      if (!fromUrl) urlState.write(this);
      this.updatePermalink();
    }

    pressButtons() {
      const q = (sel) => Array.from(this.section.querySelectorAll(sel));
      setPressed(q("button[data-range]"), (b) => b.dataset.range === this.state.range);
      setPressed(q("button[data-view]"), (b) => Number(b.dataset.view) === this.state.view);
      setPressed(q("button[data-pct]"), (b) => (b.dataset.pct === "1") === this.state.pct);
    }

    updatePermalink() {
      const link = this.section.querySelector(".pa-permalink");
      if (link) link.setAttribute("href", "#" + urlState.entry(this.id, this.state));
    }

    controls() {
      const box = this.section.querySelector(".pa-controls");
      if (box) {
        box.hidden = false;
        box.querySelectorAll("button[data-range]").forEach((b) =>
          b.addEventListener("click", () => this.set({ range: b.dataset.range })),
        );
        box.querySelectorAll("button[data-view]").forEach((b) =>
          b.addEventListener("click", () => this.set({ view: Number(b.dataset.view) })),
        );
        box.querySelectorAll("button[data-pct]").forEach((b) =>
          b.addEventListener("click", () => this.set({ pct: b.dataset.pct === "1" })),
        );
      }
      this.pressButtons();
      this.updatePermalink();
    }

    /** An HTML legend of toggle buttons: one per series (per slice of a pie). */
    legend() {
      const box = this.section.querySelector(".pa-legend");
      if (!box || !this.chart) return;
      const chart = this.chart;
      const pie = this.spec.chart === "pie";
      const labels = pie ? chart.data.labels : chart.data.datasets.map((ds) => ds.label);
      const visible = new Set(this.visibleIndexes());
      const colors = this.colors;
      const list = document.createElement("ul");
      list.setAttribute("aria-label", "Series: press one to hide or show it");
      labels.forEach((label, i) => {
        const ds = pie ? chart.data.datasets[0] : chart.data.datasets[i];
        const look = this.looks[i];
        const button = document.createElement("button");
        button.type = "button";
        const swatch = document.createElement("span");
        swatch.className = "pa-swatch";
        const alpha = pie ? 1 : colors.alpha;
        swatch.style.background = swatchCss(look.hex, alpha, look.grouped, look.flip);
        button.append(swatch, document.createTextNode(String(label)));
        if (!pie && Array.isArray(ds.versions) && ds.versions.length) {
          button.title = `${ds.versions[ds.versions.length - 1]} to ${ds.versions[0]}`;
        }
        const isOn = () => (pie ? chart.getDataVisibility(i) : chart.isDatasetVisible(i));
        button.setAttribute("aria-pressed", String(isOn()));
        button.addEventListener("click", () => {
          if (pie) chart.toggleDataVisibility(i);
          else chart.setDatasetVisibility(i, !isOn());
          chart.update();
          button.setAttribute("aria-pressed", String(isOn()));
        });
        const item = document.createElement("li");
        const values = pie ? [ds.data[i]] : (ds.counts || ds.data).filter((_, j) => visible.has(j));
        // A series with nothing in the shown range leaves the legend until it has again (on a
        // line that is no value at all: a line's 0 is a value of its own).
        const stack = pie || this.spec.stacked;
        item.hidden = !values.some(stack ? shown : (v) => v !== null && v !== undefined);
        item.append(button);
        list.append(item);
      });
      box.replaceChildren(list);
      box.hidden = false;
    }

    /** Arrow keys on the chart move a read-out across days (ages, slices). */
    keyboard() {
      const canvas = this.chart.canvas;
      canvas.tabIndex = 0;
      canvas.setAttribute(
        "aria-label",
        canvas.getAttribute("aria-label") + "; arrow keys read the values",
      );
      canvas.addEventListener("keydown", (event) => {
        const points = this.pointCount();
        if (points === 0) return;
        const pie = this.spec.chart === "pie";
        const indexes = pie ? [...Array(points).keys()] : this.visibleIndexes();
        const at = indexes.indexOf(this.active);
        const moves = {
          ArrowLeft: Math.max(0, at - 1),
          ArrowRight: at < 0 ? indexes.length - 1 : Math.min(indexes.length - 1, at + 1),
          Home: 0,
          End: indexes.length - 1,
        };
        if (event.key === "Escape") {
          this.readOut(-1);
        } else if (event.key in moves) {
          event.preventDefault();
          this.readOut(indexes[moves[event.key]]);
        }
      });
      canvas.addEventListener("blur", () => this.readOut(-1));
    }

    pointCount() {
      const data = this.chart.data;
      if (this.spec.chart === "pie") return data.labels.length;
      return data.datasets.length ? data.datasets[0].data.length : 0;
    }

    /** Show the tooltip at data point `index` (-1 hides it) and say what it says. */
    readOut(index) {
      const chart = this.chart;
      const readout = this.section.querySelector(".pa-readout");
      this.active = index;
      if (index < 0) {
        chart.setActiveElements([]);
        chart.tooltip.setActiveElements([], { x: 0, y: 0 });
        chart.update();
        if (readout) readout.textContent = "";
        return;
      }
      const active =
        this.spec.chart === "pie"
          ? [{ datasetIndex: 0, index: index }]
          : chart.data.datasets
              .map((_, d) => ({ datasetIndex: d, index: index }))
              .filter((e) => chart.isDatasetVisible(e.datasetIndex));
      const anchor = chart.getDatasetMeta(active[0].datasetIndex).data[index];
      chart.setActiveElements(active);
      chart.tooltip.setActiveElements(active, { x: anchor.x, y: anchor.y });
      chart.update();
      if (readout) {
        const tip = chart.tooltip;
        const body = tip.body.flatMap((b) => b.lines);
        const lines = [...(tip.title || []), ...body, ...(tip.footer || [])];
        readout.textContent = lines.join("; ");
      }
    }

    message(text) {
      const box = this.section.querySelector(".pa-canvas");
      const message = document.createElement("p");
      message.className = "pa-message";
      message.textContent = text;
      box.replaceChildren(message);
    }

    /** New colours after a change of colour scheme. */
    restyle() {
      if (!this.chart) return;
      const options = this.options();
      this.chart.options.color = options.color;
      Object.entries(options.scales || {}).forEach(([key, scale]) => {
        const own = this.chart.options.scales[key];
        if (!own) return;
        own.ticks.color = scale.ticks.color;
        own.grid.color = scale.grid.color;
        if (own.title && scale.title) own.title.color = scale.title.color;
      });
      style(this);
      this.chart.update();
      this.legend();
    }
  }

  // -- filters: a search box that hides the rows of a table ------------------------------------
  //
  // <input data-filter="<table id>" data-noun="components"> inside a hidden .pa-filter with a
  // status line: the rows whose first cell does not hold the text typed (in any case) are
  // hidden, and the status says how many are shown. Without this script the box stays hidden
  // and the table is whole.

  function filterTables() {
    document.querySelectorAll("input[data-filter]").forEach((input) => {
      const table = document.getElementById(input.dataset.filter);
      const box = input.closest(".pa-filter");
      const status = box && box.querySelector("[role='status']");
      if (!table || !status || !table.tBodies.length) return;
      const rows = Array.from(table.tBodies[0].rows).filter((row) => row.cells[0].tagName === "TH");
      const noun = input.dataset.noun || "rows";
      const apply = () => {
        const query = input.value.trim().toLowerCase();
        let count = 0;
        rows.forEach((row) => {
          row.hidden = !row.cells[0].textContent.toLowerCase().includes(query);
          if (!row.hidden) count += 1;
        });
        status.textContent = `${count} of ${rows.length} ${noun} shown`;
      };
      input.addEventListener("input", apply);
      apply(); // a value the browser kept when the reader came back to the page
      box.hidden = false;
    });
  }

  // -- start -----------------------------------------------------------------------------------

  function scrollTo(figure) {
    figure.section.scrollIntoView({ block: "start" });
  }

  /** The figure named first in the fragment's states, if any. */
  function named(states) {
    for (const id of states.keys()) {
      const figure = figures.find((f) => f.id === id);
      if (figure) return figure;
    }
    return undefined;
  }

  function followUrl() {
    const states = urlState.parse(location.hash);
    if (states.size === 0) return;
    figures.forEach((f) => f.set(states.get(f.id) || DEFAULT_STATE, true));
    const first = named(states);
    if (first) scrollTo(first);
  }

  function followScheme() {
    let scheme = document.body.dataset.mdColorScheme;
    new MutationObserver(() => {
      if (document.body.dataset.mdColorScheme === scheme) return;
      scheme = document.body.dataset.mdColorScheme;
      figures.forEach((f) => f.restyle());
    }).observe(document.body, { attributes: true, attributeFilter: ["data-md-color-scheme"] });
  }

  /** Material picks the scheme of the reader's system when the page loads; this follows the
   * system when it changes later (at dusk, say), as the header's toggle would. */
  function followSystemScheme() {
    const dark = window.matchMedia("(prefers-color-scheme: dark)");
    dark.addEventListener("change", (event) => {
      const want = event.matches ? "slate" : "default";
      if (document.body.dataset.mdColorScheme === want) return;
      const option = document.querySelector(`input.md-option[data-md-color-scheme="${want}"]`);
      if (option) option.click();
    });
  }

  function start() {
    followSystemScheme();
    filterTables();
    const sections = Array.from(document.querySelectorAll("section.pa-chart"));
    waiting = sections.length;
    if (waiting === 0) {
      allDrawn();
      return;
    }
    if (typeof window.Chart !== "function") {
      console.error("Chart.js did not load");
      return;
    }
    window.Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
    const states = urlState.parse(location.hash);
    sections.forEach((section) => figures.push(new Figure(section)));
    const first = named(states);
    const drawn = figures.map((figure) =>
      figure.init(states.get(figure.id) || DEFAULT_STATE).catch((error) => {
        console.error(`chart ${figure.id}: ${error.message}`);
        figure.message("This chart could not be loaded; the table below has its data.");
        finished(figure.section, "error");
      }),
    );
    // Once every chart has its height and legend, open the page at the chart the URL names.
    if (first) Promise.all(drawn).then(() => scrollTo(first));
    followScheme();
    window.addEventListener("hashchange", followUrl);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
