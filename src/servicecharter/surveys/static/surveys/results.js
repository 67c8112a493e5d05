// Draws the survey results charts from the JSON in the <script> named by data-source:
// "trend": CSAT (%) and NPS (points) by month, each with its 95% interval as a shaded band;
// "channels": CSAT, NPS and response rate per channel. The same figures are in the tables.
// Charts are drawn again when HTMX swaps the results in (filters).
(function () {
  function band(name, low, high, color, axis) {
    // A band is a transparent "low" series with the (high - low) width stacked on top of it.
    const width = high.map((h, i) => (h == null || low[i] == null ? null : +(h - low[i]).toFixed(1)));
    return [
      { name: name + " low", type: "line", data: low, stack: name, stackStrategy: "all", yAxisIndex: axis, symbol: "none",
        lineStyle: { opacity: 0 }, tooltip: { show: false } },
      { name: name + " 95%", type: "line", data: width, stack: name, stackStrategy: "all", yAxisIndex: axis, symbol: "none",
        lineStyle: { opacity: 0 }, areaStyle: { color: color, opacity: 0.18 }, tooltip: { show: false } },
    ];
  }

  function trend(el, data) {
    const csat = el.dataset.csatLabel || "CSAT %";
    const nps = el.dataset.npsLabel || "NPS";
    return {
      tooltip: { trigger: "axis" },
      legend: { data: [csat, nps], top: 0 },
      grid: { left: 48, right: 48, top: 48, bottom: 32 },
      xAxis: { type: "category", data: data.months },
      yAxis: [
        { type: "value", min: 0, max: 100, name: csat },
        { type: "value", min: -100, max: 100, name: nps },
      ],
      series: [
        ...band(csat, data.csat_low, data.csat_high, "#1d5fa8", 0),
        { name: csat, type: "line", data: data.csat, yAxisIndex: 0, connectNulls: false, itemStyle: { color: "#1d5fa8" } },
        ...band(nps, data.nps_low, data.nps_high, "#c0641a", 1),
        { name: nps, type: "line", data: data.nps, yAxisIndex: 1, connectNulls: false, itemStyle: { color: "#c0641a" } },
      ],
    };
  }

  function channels(el, data) {
    return {
      tooltip: { trigger: "axis" },
      legend: { top: 0 },
      grid: { left: 48, right: 16, top: 40, bottom: 32 },
      xAxis: { type: "category", data: data.channels },
      yAxis: { type: "value", min: -100, max: 100 },
      series: [
        { name: el.dataset.csatLabel || "CSAT %", type: "bar", data: data.channel_csat, itemStyle: { color: "#1d5fa8" } },
        { name: el.dataset.npsLabel || "NPS", type: "bar", data: data.channel_nps, itemStyle: { color: "#c0641a" } },
        { name: el.dataset.rateLabel || "%", type: "bar", data: data.channel_rate, itemStyle: { color: "#6b7785" } },
      ],
    };
  }

  const KINDS = { trend: trend, channels: channels };

  function render(root) {
    if (!window.echarts) return;
    root.querySelectorAll("[data-survey-chart]").forEach(function (el) {
      const source = document.getElementById(el.dataset.source);
      const kind = KINDS[el.dataset.surveyChart];
      if (!source || !kind) return;
      const existing = window.echarts.getInstanceByDom(el);
      if (existing) existing.dispose();
      const chart = window.echarts.init(el);
      chart.setOption(kind(el, JSON.parse(source.textContent)));
      window.addEventListener("resize", function () { chart.resize(); });
    });
  }

  document.addEventListener("DOMContentLoaded", function () { render(document); });
  document.addEventListener("htmx:afterSettle", function (event) { render(event.target); });
})();
