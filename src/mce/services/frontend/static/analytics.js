// The staff dashboard's live chart: asks /api/analytics/windows every few seconds (not while the tab is hidden) and
// draws unique shoppers and events per minute as SVG. Without this file the page still shows the figures and a table.
(() => {
  "use strict";

  const svg = document.getElementById("activity-chart");
  if (!svg) {
    return;
  }
  const SVG_NS = "http://www.w3.org/2000/svg";
  const POLL_MS = 5000;
  const MAX_RETRY_MS = 60000;
  const WIDTH = 720;
  const HEIGHT = 320;
  const MARGIN = { top: 16, right: 24, bottom: 40, left: 56 };
  const MINUTE_MS = 60000;
  const TICK_MINUTES = [1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440];
  const MAX_X_TICKS = 8;

  const root = svg.closest("[data-testid=analytics-dashboard]");
  const figure = svg.closest("figure");
  const empty = root.querySelector("[data-testid=analytics-empty]");
  const status = root.querySelector("[data-testid=analytics-status]");
  const tableBody = root.querySelector("[data-testid=analytics-table] tbody");
  const lastWindow = root.querySelector("[data-testid=last-window]");
  const lastUsers = root.querySelector("[data-testid=last-users]");
  const lastEvents = root.querySelector("[data-testid=last-events]");
  const limit = Number(svg.dataset.limit) || 60;

  let timer = null;
  let asking = false;
  let stopped = false;
  let retryMs = POLL_MS;

  const pad = (n) => String(n).padStart(2, "0");
  const minute = (ms) => {
    const at = new Date(ms);
    return `${pad(at.getUTCHours())}:${pad(at.getUTCMinutes())}`;
  };
  const day = (ms) => new Date(ms).toISOString().slice(0, 10);

  function node(name, attributes, text) {
    const made = document.createElementNS(SVG_NS, name);
    for (const [key, value] of Object.entries(attributes)) {
      made.setAttribute(key, String(value));
    }
    if (text !== undefined) {
      made.textContent = text;
    }
    return made;
  }

  function setText(element, text) {
    // Only on a change, so the live region does not repeat itself to screen readers every poll.
    if (element.textContent !== text) {
      element.textContent = text;
    }
  }

  // A step of 1, 2 or 5 times a power of ten, at least `raw` and never below 1 (counts are whole numbers).
  function niceStep(raw) {
    if (raw <= 1) {
      return 1;
    }
    const power = 10 ** Math.floor(Math.log10(raw));
    for (const factor of [1, 2, 5, 10]) {
      if (factor * power >= raw) {
        return factor * power;
      }
    }
    return 10 * power;
  }

  // Consecutive windows join into one line; a missing minute breaks it rather than drawing across the gap.
  function linePath(windows, x, y, value) {
    let path = "";
    let previousEnd = null;
    for (const window of windows) {
      const command = window.window_start === previousEnd ? "L" : "M";
      path += `${command}${x(window).toFixed(1)},${y(value(window)).toFixed(1)} `;
      previousEnd = window.window_end;
    }
    return path.trim();
  }

  function draw(newestFirst) {
    svg.replaceChildren();
    const windows = newestFirst.slice().reverse();
    if (windows.length === 0) {
      figure.hidden = true;
      empty.hidden = false;
      svg.dataset.drawn = "0";
      delete svg.dataset.latest;
      return;
    }
    figure.hidden = false;
    empty.hidden = true;

    const start = windows[0].window_start;
    const end = windows[windows.length - 1].window_end;
    const span = Math.max(end - start, MINUTE_MS);
    const peak = Math.max(1, ...windows.map((w) => Math.max(w.unique_users, w.event_count)));
    const step = niceStep(peak / 4);
    const top = Math.ceil(peak / step) * step;
    const plotWidth = WIDTH - MARGIN.left - MARGIN.right;
    const plotHeight = HEIGHT - MARGIN.top - MARGIN.bottom;
    const xAt = (ms) => MARGIN.left + ((ms - start) / span) * plotWidth;
    const x = (window) => xAt((window.window_start + window.window_end) / 2);
    const y = (value) => MARGIN.top + plotHeight - (value / top) * plotHeight;
    const bottom = MARGIN.top + plotHeight;

    const grid = node("g", { "aria-hidden": "true" });
    for (let value = 0; value <= top; value += step) {
      grid.append(node("line", { class: "chart-grid", x1: MARGIN.left, x2: WIDTH - MARGIN.right, y1: y(value), y2: y(value) }));
      grid.append(node("text", { class: "chart-tick", x: MARGIN.left - 8, y: y(value) + 4, "text-anchor": "end" }, String(value)));
    }
    const spanMinutes = span / MINUTE_MS;
    const every = TICK_MINUTES.find((m) => spanMinutes / m <= MAX_X_TICKS) || TICK_MINUTES[TICK_MINUTES.length - 1];
    const tickMs = every * MINUTE_MS;
    for (let at = Math.ceil(start / tickMs) * tickMs; at <= end; at += tickMs) {
      grid.append(node("line", { class: "chart-axis", x1: xAt(at), x2: xAt(at), y1: bottom, y2: bottom + 5 }));
      grid.append(node("text", { class: "chart-tick", x: xAt(at), y: bottom + 20, "text-anchor": "middle" }, minute(at)));
    }
    grid.append(node("line", { class: "chart-axis", x1: MARGIN.left, x2: WIDTH - MARGIN.right, y1: bottom, y2: bottom }));
    grid.append(node("line", { class: "chart-axis", x1: MARGIN.left, x2: MARGIN.left, y1: MARGIN.top, y2: bottom }));
    grid.append(node("text", { class: "chart-tick", x: WIDTH - MARGIN.right, y: HEIGHT - 4, "text-anchor": "end" }, "UTC"));
    svg.append(grid);

    const series = [
      { key: "events", value: (w) => w.event_count, label: "events" },
      { key: "users", value: (w) => w.unique_users, label: "unique shoppers" },
    ];
    for (const { key, value, label } of series) {
      const group = node("g", { "data-series": key });
      group.append(node("path", { class: `chart-line chart-${key}`, d: linePath(windows, x, y, value), "data-testid": `${key}-line` }));
      for (const window of windows) {
        const dot = node("circle", { class: `chart-dot-${key}`, cx: x(window), cy: y(value(window)), r: 3 });
        dot.append(node("title", {}, `${minute(window.window_start)}–${minute(window.window_end)} UTC: ${value(window)} ${label}`));
        group.append(dot);
      }
      svg.append(group);
    }
    svg.dataset.drawn = String(windows.length);
    svg.dataset.latest = String(windows[windows.length - 1].window_start);
  }

  function showFigures(newestFirst) {
    const latest = newestFirst[0];
    setText(lastWindow, latest ? `${minute(latest.window_start)}–${minute(latest.window_end)}` : "—");
    setText(lastUsers, latest ? String(latest.unique_users) : "—");
    setText(lastEvents, latest ? String(latest.event_count) : "—");
  }

  function fillTable(newestFirst) {
    const rows = newestFirst.map((w) => {
      const row = document.createElement("tr");
      for (const text of [`${day(w.window_start)} ${minute(w.window_start)}–${minute(w.window_end)}`, w.unique_users, w.event_count]) {
        const cell = document.createElement("td");
        cell.textContent = String(text);
        row.append(cell);
      }
      return row;
    });
    tableBody.replaceChildren(...rows);
  }

  function signedOut() {
    stopped = true;
    const link = document.createElement("a");
    link.href = `/admin/login?next=${encodeURIComponent(location.pathname)}`;
    link.textContent = "Sign in again";
    status.replaceChildren("Your admin sign-in has ended, so the chart has stopped updating. ", link, ".");
  }

  function schedule(ms) {
    if (!stopped && !document.hidden && timer === null && !asking) {
      timer = setTimeout(ask, ms);
    }
  }

  async function ask() {
    timer = null;
    if (stopped || document.hidden || asking) {
      return;
    }
    asking = true;
    try {
      const response = await fetch(`/api/analytics/windows?limit=${limit}`, {
        credentials: "same-origin",
        cache: "no-store",
        headers: { accept: "application/json" },
      });
      if (response.status === 401 || response.status === 403) {
        signedOut();
        return;
      }
      if (!response.ok) {
        throw new Error(`analytics answered ${response.status}`);
      }
      const windows = (await response.json()).windows;
      draw(windows);
      showFigures(windows);
      fillTable(windows);
      setText(status, "");
      retryMs = POLL_MS;
    } catch (error) {
      setText(status, "The analytics service is not answering; trying again.");
      retryMs = Math.min(retryMs * 2, MAX_RETRY_MS);
    } finally {
      asking = false;
    }
    schedule(retryMs);
  }

  document.addEventListener("visibilitychange", () => {
    if (document.hidden) {
      clearTimeout(timer);
      timer = null;
    } else {
      ask();
    }
  });
  ask();
})();
