/* Charts of the console's dashboards: Apache ECharts over the JSON each page carries in a
   <script type="application/json"> block (data, not code: the CSP allows no inline script).
   Every chart has the same figures in a table beside it, for screen readers and print. */
(function () {
  "use strict";
  var palette = ["#a3171e", "#0b4fa3", "#1d6b35", "#7a4a00", "#5b2a86", "#4a5360"];

  function percent(v) { return v == null ? "—" : (v * 100).toFixed(1) + "%"; }

  function bar(spec) {
    var series = spec.series.map(function (s, i) {
      var item = { name: s.name, type: "bar", data: s.values, itemStyle: { color: palette[i % palette.length] } };
      if (i === 0 && spec.target != null) {
        item.markLine = { symbol: "none", silent: true, lineStyle: { color: "#1b1f24", type: "dashed" },
          label: { formatter: spec.targetLabel || "", color: "#1b1f24" }, data: [{ yAxis: spec.target }] };
      }
      return item;
    });
    return {
      animation: false,
      color: palette,
      grid: { left: 48, right: 16, top: 36, bottom: spec.rotate ? 96 : 48, containLabel: false },
      legend: { top: 0, textStyle: { color: "#1b1f24" } },
      tooltip: { trigger: "axis", renderMode: "richText", valueFormatter: spec.percent ? percent : undefined },
      xAxis: { type: "category", data: spec.categories, axisLabel: { color: "#1b1f24", interval: 0, rotate: spec.rotate || 0, width: 90, overflow: "truncate" } },
      yAxis: { type: "value", max: spec.percent ? 1 : null, axisLabel: { color: "#1b1f24", formatter: spec.percent ? function (v) { return Math.round(v * 100) + "%"; } : null } },
      series: series
    };
  }

  function pie(spec) {
    return {
      animation: false,
      color: palette,
      tooltip: { trigger: "item", renderMode: "richText" },
      legend: { bottom: 0, textStyle: { color: "#1b1f24" } },
      series: [{ type: "pie", radius: ["35%", "65%"], label: { color: "#1b1f24", formatter: "{b}: {c}" },
        data: spec.categories.map(function (c, i) { return { name: c, value: spec.series[0].values[i] }; }) }]
    };
  }

  function draw() {
    if (typeof echarts === "undefined") { return; }
    var charts = [];
    document.querySelectorAll("[data-chart]").forEach(function (el) {
      var source = document.getElementById(el.getAttribute("data-chart"));
      if (!source) { return; }
      var spec = JSON.parse(source.textContent);
      var chart = echarts.init(el, null, { renderer: "svg" });
      chart.setOption(spec.kind === "pie" ? pie(spec) : bar(spec));
      charts.push(chart);
    });
    window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });
  }

  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", draw); } else { draw(); }
})();
