// Renders every element with data-chart from the JSON in the <script> named by data-source:
// {"labels": [...], "values": [...]} for a bar chart (optional "minInterval": 0 for fractions).
// The same figures are in a table beside it.
(function () {
  function render(el) {
    const source = document.getElementById(el.dataset.source);
    if (!source || !window.echarts) return;
    const data = JSON.parse(source.textContent);
    const chart = window.echarts.init(el);
    chart.setOption({
      tooltip: { trigger: "axis" },
      grid: { left: 48, right: 16, top: 16, bottom: 64 },
      xAxis: { type: "category", data: data.labels, axisLabel: { interval: 0, rotate: data.labels.length > 6 ? 30 : 0 } },
      yAxis: { type: "value", minInterval: data.minInterval ?? 1 },
      series: [{ type: el.dataset.chart || "bar", data: data.values, itemStyle: { color: "#1d5fa8" } }],
    });
    window.addEventListener("resize", () => chart.resize());
  }
  document.addEventListener("DOMContentLoaded", () => document.querySelectorAll("[data-chart]").forEach(render));
})();
