// The faultline run page: draws the run's data (the JSON in #data) as a space-time
// diagram with zoom, pan, a time cursor, filters and details, and the clients' history.
// No network, no libraries. A script error shows as #script-error (the browser test
// looks for it); a finished render sets #render-status to "ok".
window.onerror = function (msg, src, line, col) {
  var d = document.getElementById('script-error');
  if (!d) {
    d = document.createElement('pre');
    d.id = 'script-error';
    document.body.insertBefore(d, document.body.firstChild);
  }
  d.textContent += 'script error: ' + msg + ' at ' + line + ':' + col + '\n';
};

(function () {
  'use strict';
  var D = JSON.parse(document.getElementById('data').textContent);
  var SVGNS = 'http://www.w3.org/2000/svg';
  var LEFT = 70, RIGHT = 20, TOP = 34, LANE = 44;
  var lanes = D.lanes;
  var kinds = D.kinds;
  var shownLane = lanes.map(function () { return true; });
  var shownKind = kinds.map(function () { return true; });
  // A little room after the window's end, so what happened last is not on the border.
  var HI = D.meta.to + Math.max(1, (D.meta.to - D.meta.from) * 0.03);
  var view = { a: D.meta.from, b: HI };
  var cursor = null;

  function fmt(t) { return (t / 1e6).toFixed(3) + 'ms'; }
  function el(name, attrs, parent) {
    var e = document.createElementNS(SVGNS, name);
    for (var k in attrs) { e.setAttribute(k, attrs[k]); }
    if (parent) { parent.appendChild(e); }
    return e;
  }
  function h(tag, text, parent, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) { e.textContent = text; }
    if (cls) { e.className = cls; }
    if (parent) { parent.appendChild(e); }
    return e;
  }
  function width() { return Math.max(900, document.getElementById('diagram-box').clientWidth || 1200); }

  // ---- header -------------------------------------------------------------------------
  function header() {
    var m = D.meta, box = document.getElementById('header');
    h('h1', m.name, box);
    var tb = h('table', null, box);
    function row(k, v, cls) {
      var tr = h('tr', null, tb);
      h('td', k, tr);
      var td = h('td', null, tr);
      if (v instanceof Node) { td.appendChild(v); } else { td.textContent = v; }
      if (cls) { td.className = cls; }
      return td;
    }
    row('scenario', m.scenario + '  (' + m.protocol + ')');
    row('seed', String(m.seed));
    row('verdict', m.verdict + (m.matched ? '  (as expected: ' : '  (NOT as expected: ') + m.expected + ')',
      m.verdict === 'pass' ? 'pass' : 'fail');
    if (D.violation) {
      var v = D.violation;
      var lines = v.message.split('\n');
      var td = row('violation', v.check + ' at ' + fmt(v.time) +
        (v.nodes.length ? ' on ' + v.nodes.map(function (i) { return lanes[i].name; }).join(', ') : '') +
        ': ' + lines[0], 'fail');
      td.id = 'violation-text';
      if (lines.length > 1) {
        var more = h('details', null, td);
        h('summary', 'the whole message (' + lines.length + ' lines)', more);
        h('pre', v.message, more);
      }
    }
    var code = h('code', m.replay);
    row('replay', code);
    row('shown', fmt(m.from) + ' to ' + fmt(m.to) + ' of ' + fmt(m.end) + ', ' + D.msgs.length +
      ' messages, ' + D.meta.events + ' trace events');
    [m.summary, m.notice, m.truncated].forEach(function (n) {
      if (n) { h('div', n, box, 'notice'); }
    });
    // Counts of the window's messages, every lane included: open when the drawing leaves
    // something out.
    var counts = h('div', null, box);
    counts.id = 'counts';
    D.counts.forEach(function (c) {
      var d = h('details', null, counts, 'counts');
      d.open = !!m.summary;
      h('summary', c.title + ' (' + c.rows.length + ' rows)', d);
      var t = h('table', null, d);
      var tr = h('tr', null, t);
      c.head.forEach(function (x) { h('th', x, tr); });
      c.rows.forEach(function (r) {
        var row = h('tr', null, t);
        r.forEach(function (x) { h('td', String(x), row); });
      });
    });
  }

  // ---- controls -----------------------------------------------------------------------
  function controls() {
    var c = document.getElementById('controls');
    var z = h('span', null, c);
    [['zoom in', function () { zoom(0.5, null); }], ['zoom out', function () { zoom(2, null); }],
      ['whole window', function () { view.a = D.meta.from; view.b = HI; render(); }],
      ['\u2190', function () { pan(-0.25); }], ['\u2192', function () { pan(0.25); }]].forEach(function (b) {
      var btn = h('button', b[0], z);
      btn.onclick = b[1];
    });
    var fl = h('fieldset', null, c);
    h('legend', 'lanes', fl);
    lanes.forEach(function (l, i) {
      var lab = h('label', null, fl);
      var cb = h('input', null, lab);
      cb.type = 'checkbox'; cb.checked = true; cb.className = 'lane-filter'; cb.dataset.lane = l.name;
      cb.onchange = function () { shownLane[i] = cb.checked; render(); };
      lab.appendChild(document.createTextNode(l.name));
    });
    var fk = h('fieldset', null, c);
    h('legend', 'message kinds', fk);
    kinds.forEach(function (k, i) {
      var lab = h('label', null, fk);
      var cb = h('input', null, lab);
      cb.type = 'checkbox'; cb.checked = true; cb.className = 'kind-filter'; cb.dataset.kind = k;
      cb.onchange = function () { shownKind[i] = cb.checked; render(); };
      lab.appendChild(document.createTextNode(k));
    });
    var cur = h('label', 'cursor ', c);
    var range = h('input', null, cur);
    range.type = 'range'; range.min = 0; range.max = 1000; range.value = 0; range.id = 'cursor-range';
    range.oninput = function () {
      setCursor(view.a + (view.b - view.a) * Number(range.value) / 1000);
    };
  }

  function zoom(f, at) {
    var mid = at === null ? (view.a + view.b) / 2 : at;
    var len = Math.max(1000, (view.b - view.a) * f);
    var frac = (mid - view.a) / (view.b - view.a);
    view.a = mid - len * frac; view.b = view.a + len;
    clampView(); render();
  }
  function pan(f) {
    var len = view.b - view.a;
    view.a += len * f; view.b += len * f;
    clampView(); render();
  }
  function clampView() {
    var len = view.b - view.a, lo = D.meta.from, hi = HI;
    if (len > hi - lo) { view.a = lo; view.b = hi; return; }
    if (view.a < lo) { view.a = lo; view.b = lo + len; }
    if (view.b > hi) { view.b = hi; view.a = hi - len; }
  }

  // ---- the space-time diagram ---------------------------------------------------------
  var tip = null;
  function showTip(ev, text) {
    tip.textContent = text; tip.style.display = 'block';
    tip.style.left = Math.min(ev.clientX + 12, window.innerWidth - 300) + 'px';
    tip.style.top = (ev.clientY + 14) + 'px';
  }
  function hideTip() { tip.style.display = 'none'; }
  function hover(e, text) {
    e.addEventListener('mousemove', function (ev) { showTip(ev, text); });
    e.addEventListener('mouseleave', hideTip);
  }
  function clickable(e, ev) {
    if (ev === null || ev === undefined || ev < 0) { return; }
    e.style.cursor = 'pointer';
    e.addEventListener('click', function (x) { x.stopPropagation(); details(ev); });
  }

  function render() {
    var W = width();
    var svg = document.getElementById('diagram');
    while (svg.firstChild) { svg.removeChild(svg.firstChild); }
    var rows = [];
    lanes.forEach(function (l, i) { if (shownLane[i]) { rows.push(i); } });
    var rowOf = {};
    rows.forEach(function (li, r) { rowOf[li] = r; });
    var H = TOP + LANE * rows.length + 40;
    svg.setAttribute('width', W); svg.setAttribute('height', H);
    svg.setAttribute('viewBox', '0 0 ' + W + ' ' + H);
    var span = view.b - view.a;
    function x(t) { return LEFT + (W - LEFT - RIGHT) * (t - view.a) / span; }
    function cx(t) { return Math.max(LEFT, Math.min(W - RIGHT, x(t))); }
    function y(li) { return TOP + LANE * rowOf[li] + LANE / 2; }
    function visible(a, b) { return a <= view.b && b >= view.a; }
    el('rect', { x: 0, y: 0, width: W, height: H, fill: 'white', 'class': 'bg' }, svg);
    // time axis
    var step = niceStep(span / 10);
    var g = el('g', { 'class': 'axis' }, svg);
    for (var t = Math.ceil(view.a / step) * step; t <= view.b; t += step) {
      el('line', { x1: x(t), y1: TOP - 6, x2: x(t), y2: H - 30, stroke: '#eee' }, g);
      el('text', { x: x(t), y: H - 16, 'text-anchor': 'middle', fill: '#888' }, g).textContent = fmt(t);
    }
    // cuts, shaded over the lanes they cut
    var colours = ['#f4a261', '#2a9d8f', '#8ecae6', '#b5838d'];
    var gc = el('g', { 'class': 'cuts' }, svg);
    D.cuts.forEach(function (c, ci) {
      if (!visible(c[0], c[1])) { return; }
      var x1 = cx(c[0]), x2 = cx(c[1]);
      var cut = el('g', { 'class': 'cut-group', 'data-label': c[2] }, gc);
      c[3].forEach(function (grp, gi) {
        grp.forEach(function (li) {
          if (!(li in rowOf)) { return; }
          var r = el('rect', { x: x1, y: y(li) - LANE / 2 + 2, width: Math.max(1, x2 - x1), height: LANE - 4,
            fill: colours[gi % colours.length], 'class': 'cut' + (c[4] ? ' one-way' : '') }, cut);
          hover(r, c[2] + '  (' + fmt(c[0]) + ' to ' + fmt(c[1]) + ')' +
            (c[4] ? (gi === 0 ? '  sends from here are cut' : '  receives from the first group are cut') : ''));
          clickable(r, c[5]);
        });
      });
      el('text', { x: x1 + 2, y: TOP - 10 - (ci % 2) * 10, 'class': 'cut-label' }, cut).textContent = c[2];
    });
    // lanes
    var gl = el('g', { 'class': 'lanes' }, svg);
    rows.forEach(function (li) {
      var lg = el('g', { 'class': 'lane', 'data-lane': lanes[li].name }, gl);
      el('line', { x1: LEFT, y1: y(li), x2: W - RIGHT, y2: y(li), 'class': 'lane-line' }, lg);
      el('text', { x: LEFT - 8, y: y(li) + 4, 'text-anchor': 'end', 'class': 'lane-name' }, lg).textContent =
        lanes[li].name;
    });
    // spans: crashes, pauses, leader beliefs
    var gs = el('g', { 'class': 'spans' }, svg);
    D.spans.forEach(function (s) {
      if (!(s[0] in rowOf) || !visible(s[1], s[2])) { return; }
      var x1 = cx(s[1]), x2 = cx(s[2]), yy = y(s[0]);
      var r;
      if (s[3] === 'leader') {
        r = el('rect', { x: x1, y: yy + 3, width: Math.max(1, x2 - x1), height: 7, 'class': 'leader' }, gs);
        el('text', { x: x1 + 2, y: yy + 19, 'class': 'leader-label' }, gs).textContent = 'leader ' + s[4];
        hover(r, lanes[s[0]].name + ' believes it leads ' + s[4] + ' from ' + fmt(s[1]) + ' to ' + fmt(s[2]));
      } else {
        r = el('rect', { x: x1, y: yy - 9, width: Math.max(1, x2 - x1), height: 18, 'class': s[3] }, gs);
        el('text', { x: x1 + 2, y: yy - 11, fill: '#444', 'font-size': 9 }, gs).textContent = s[3];
        hover(r, lanes[s[0]].name + ' ' + s[3] + ' from ' + fmt(s[1]) + ' to ' + fmt(s[2]));
      }
      r.setAttribute('data-kind', s[3]);
      clickable(r, s[5]);
    });
    // point faults: restarts, clock steps and drift, link changes
    var gm = el('g', { 'class': 'marks' }, svg);
    D.marks.forEach(function (m) {
      if (m[1] < view.a || m[1] > view.b) { return; }
      var xx = x(m[1]), e;
      if (m[0] >= 0 && m[0] in rowOf) {
        var yy = y(m[0]);
        e = el('path', { d: 'M ' + xx + ' ' + (yy - 8) + ' l 6 8 l -6 8 l -6 -8 z', 'class': 'mark fault-mark' }, gm);
        el('text', { x: xx + 7, y: yy - 10, fill: '#7b2cbf', 'font-size': 9 }, gm).textContent = m[2];
      } else if (m[0] < 0) {
        e = el('line', { x1: xx, y1: TOP - 4, x2: xx, y2: TOP + LANE * rows.length, 'class': 'mark-line fault-mark' }, gm);
      } else { return; }
      hover(e, fmt(m[1]) + '  ' + m[2]);
      clickable(e, m[3]);
    });
    // messages
    var ga = el('g', { 'class': 'arrows' }, svg);
    var inView = D.msgs.filter(function (m) { return visible(m[2], m[3]); }).length;
    var fade = Math.max(0.2, Math.min(1, 500 / Math.max(1, inView)));
    ga.setAttribute('opacity', fade.toFixed(2));
    D.msgs.forEach(function (m, mi) {
      var f = m[0], to = m[1];
      if (!(f in rowOf) || !(to in rowOf) || !shownKind[m[4]] || !visible(m[2], m[3])) { return; }
      var x1 = x(m[2]), y1 = y(f), x2 = x(m[3]), y2 = y(to);
      var cls = ['arrow', ['delivered', 'dropped', 'inflight'][m[5]]];
      if (m[6]) { cls.push('duplicate'); }
      var text = lanes[f].name + (m[5] === 1 ? ' -x ' : ' -> ') + lanes[to].name + '  ' + m[10] +
        '  sent ' + fmt(m[2]) + (m[5] === 0 ? ', delivered ' : m[5] === 1 ? ', lost (' + m[7] + ') ' : ', in flight at the end ') +
        fmt(m[3]) + (m[6] ? '  (a duplicate copy)' : '');
      var ex = x2, ey = y2;
      if (m[5] === 1) {
        // lost: stop where it died, half way (or at once if it never left)
        ex = x1 + (x2 - x1) * 0.5 + (x2 === x1 ? 6 : 0); ey = y1 + (y2 - y1) * 0.5;
      }
      var line = el('line', { x1: x1, y1: y1, x2: ex, y2: ey, 'class': cls.join(' '), 'data-m': mi,
        'marker-end': m[5] === 0 ? 'url(#arrowhead)' : '' }, ga);
      hover(line, text);
      clickable(line, m[9] >= 0 ? m[9] : m[8]);
      if (m[5] === 1) {
        el('path', { d: 'M ' + (ex - 3) + ' ' + (ey - 3) + ' l 6 6 m 0 -6 l -6 6', 'class': 'drop-x' }, ga);
      }
      if (m[6]) {
        el('circle', { cx: x1, cy: y1, r: 2.5, 'class': 'dup-mark' }, ga);
      }
    });
    // notes
    var gn = el('g', { 'class': 'notes' }, svg);
    D.notes.forEach(function (n) {
      var t = D.lines[n[0] - D.off][0];
      if (!(n[1] in rowOf) || t < view.a || t > view.b) { return; }
      var c = el('circle', { cx: x(t), cy: y(n[1]), r: 3, 'class': 'note-dot' }, gn);
      hover(c, fmt(t) + ' ' + lanes[n[1]].name + ': ' + n[2]);
      clickable(c, n[0]);
    });
    // the violation
    if (D.violation && D.violation.inWindow) {
      var v = D.violation;
      var gv = el('g', { id: 'violation-marker', 'data-check': v.check }, svg);
      var vx = cx(v.time);
      el('line', { x1: vx, y1: TOP - 8, x2: vx, y2: TOP + LANE * rows.length, 'class': 'violation-line' }, gv);
      v.nodes.forEach(function (li) {
        if (li in rowOf) { el('circle', { cx: vx, cy: y(li), r: 9, 'class': 'violation-ring' }, gv); }
      });
      el('text', { x: vx - 4, y: TOP + LANE * rows.length + 12, 'text-anchor': 'end', 'class': 'violation-label' }, gv)
        .textContent = 'VIOLATION ' + v.check;
      hover(gv, v.check + ' at ' + fmt(v.time) + ': ' + v.message);
      clickable(gv, v.ev);
    }
    // the cursor
    if (cursor !== null && cursor >= view.a && cursor <= view.b) {
      el('line', { x1: x(cursor), y1: TOP - 8, x2: x(cursor), y2: H - 30, 'class': 'cursor-line', id: 'cursor-line' }, svg);
    }
    var defs = el('defs', {}, svg);
    var mk = el('marker', { id: 'arrowhead', viewBox: '0 0 10 10', refX: 10, refY: 5, markerWidth: 6, markerHeight: 6,
      orient: 'auto-start-reverse' }, defs);
    el('path', { d: 'M 0 0 L 10 5 L 0 10 z', fill: '#4a6fa5' }, mk);
    svg.onclick = function (ev) {
      var r = svg.getBoundingClientRect();
      var px = (ev.clientX - r.left) * (W / r.width);
      if (px >= LEFT && px <= W - RIGHT) { setCursor(view.a + (px - LEFT) / (W - LEFT - RIGHT) * span); }
    };
    renderHistory();
  }

  function niceStep(raw) {
    var p = 1;
    for (;;) {
      for (var i = 0; i < 3; i++) {
        var s = p * [1, 2, 5][i];
        if (s >= raw) { return Math.max(1, s); }
      }
      p *= 10;
    }
  }

  // wheel zoom and drag pan
  function interactions() {
    var box = document.getElementById('diagram-box');
    box.addEventListener('wheel', function (ev) {
      ev.preventDefault();
      var r = box.getBoundingClientRect(), W = width();
      var px = (ev.clientX - r.left) * (W / r.width);
      var at = view.a + (px - LEFT) / (W - LEFT - RIGHT) * (view.b - view.a);
      zoom(ev.deltaY < 0 ? 0.8 : 1.25, Math.max(view.a, Math.min(view.b, at)));
    }, { passive: false });
    var drag = null;
    box.addEventListener('mousedown', function (ev) { drag = { x: ev.clientX, a: view.a, b: view.b, moved: false }; });
    window.addEventListener('mouseup', function () { box.classList.remove('dragging'); setTimeout(function () { drag = null; }, 0); });
    window.addEventListener('mousemove', function (ev) {
      if (!drag) { return; }
      var dx = ev.clientX - drag.x;
      if (Math.abs(dx) < 3 && !drag.moved) { return; }
      drag.moved = true; box.classList.add('dragging');
      var W = width(), dt = -dx / (W - LEFT - RIGHT) * (drag.b - drag.a);
      view.a = drag.a + dt; view.b = drag.b + dt; clampView(); render();
    });
  }

  // ---- the time cursor ----------------------------------------------------------------
  function setCursor(t) {
    cursor = Math.round(t);
    var range = document.getElementById('cursor-range');
    range.value = Math.round((cursor - view.a) / (view.b - view.a) * 1000);
    render();
    var p = document.getElementById('cursor-panel');
    p.innerHTML = '';
    h('h2', 'at ' + fmt(cursor), p);
    var tb = h('table', null, p);
    lanes.forEach(function (l, li) {
      if (l.client) { return; }
      var last = null;
      D.notes.forEach(function (n) {
        if (n[1] === li && D.lines[n[0] - D.off][0] <= cursor) { last = n; }
      });
      var state = '';
      D.spans.forEach(function (s) {
        if (s[0] === li && s[1] <= cursor && cursor < s[2] && s[3] !== 'leader') { state = s[3] + ' '; }
      });
      var tr = h('tr', null, tb);
      h('td', l.name, tr, 'mono');
      h('td', state + (last ? last[2] + '  (' + fmt(D.lines[last[0] - D.off][0]) + ')' : '-'), tr, 'mono');
    });
    var fl = D.msgs.filter(function (m) { return m[2] <= cursor && cursor < m[3]; });
    h('h2', fl.length + ' messages in flight', p);
    var box = h('div', null, p);
    box.id = 'inflight';
    fl.slice(0, 200).forEach(function (m) {
      h('div', lanes[m[0]].name + ' -> ' + lanes[m[1]].name + '  ' + m[10] + '  (sent ' + fmt(m[2]) + ')', box, 'mono');
    });
    if (fl.length > 200) { h('div', '... and ' + (fl.length - 200) + ' more', box); }
  }

  // ---- details: the trace line of a clicked event -------------------------------------
  function details(ev) {
    var p = document.getElementById('details');
    p.innerHTML = '';
    h('h2', 'trace line ' + (ev + 1), p);
    var pre = h('pre', null, p);
    var i0 = Math.max(D.off, ev - 4), i1 = Math.min(D.off + D.lines.length - 1, ev + 4);
    if (ev < D.off || ev >= D.off + D.lines.length) {
      pre.textContent = '(outside the lines this page holds)';
      return;
    }
    for (var i = i0; i <= i1; i++) {
      var s = h('div', D.lines[i - D.off][1], pre, i === ev ? 'this' : '');
      s.dataset.line = i + 1;
    }
  }

  // ---- the clients' history -----------------------------------------------------------
  function renderHistory() {
    var svg = document.getElementById('history');
    while (svg.firstChild) { svg.removeChild(svg.firstChild); }
    var clients = [];
    lanes.forEach(function (l, i) { if (l.client) { clients.push(i); } });
    var W = width(), H = 30 + 26 * clients.length + 24;
    svg.setAttribute('width', W); svg.setAttribute('height', H);
    if (!clients.length) {
      el('text', { x: LEFT, y: 20, fill: '#888' }, svg).textContent = 'no clients in this run';
      return;
    }
    var span = view.b - view.a;
    function x(t) { return LEFT + (W - LEFT - RIGHT) * (t - view.a) / span; }
    function cx(t) { return Math.max(LEFT, Math.min(W - RIGHT, x(t))); }
    var row = {};
    clients.forEach(function (li, r) {
      row[li] = 20 + 26 * r;
      el('text', { x: LEFT - 8, y: row[li] + 13, 'text-anchor': 'end', 'class': 'lane-name' }, svg).textContent = lanes[li].name;
    });
    D.ops.forEach(function (o) {
      var end = o[4] < 0 ? D.meta.end : o[4];
      if (o[3] > view.b || end < view.a) { return; }
      var x1 = cx(o[3]), x2 = cx(end);
      var r = el('rect', { x: x1, y: row[o[0]], width: Math.max(2, x2 - x1), height: 16,
        'class': 'op ' + o[5] + (o[8] ? ' stuck' : '') }, svg);
      hover(r, lanes[o[0]].name + ' p' + o[1] + ' ' + o[2] + '  ' + o[5] + '  ' + fmt(o[3]) + ' to ' +
        (o[4] < 0 ? 'never completed' : fmt(o[4])) + (o[8] ? '  CANNOT BE PLACED: ' + o[8] : ''));
      clickable(r, o[7] >= 0 ? o[7] : o[6]);
    });
    if (cursor !== null && cursor >= view.a && cursor <= view.b) {
      el('line', { x1: x(cursor), y1: 10, x2: x(cursor), y2: H - 10, 'class': 'cursor-line' }, svg);
    }
    var stuck = D.ops.filter(function (o) { return o[8]; }).length;
    el('text', { x: LEFT, y: H - 4, fill: stuck ? '#c00' : '#888' }, svg).textContent = stuck ?
      stuck + ' operations cannot be placed in any linearization (red outline)' :
      'ok (green), fail (red), info: unknown outcome (orange), never completed (grey)';
  }

  // `#selftest=LANE` drives the page as a reader would (click an arrow, zoom, hide a lane
  // and a message kind, set the cursor at the violation or mid-window) and writes what
  // the DOM showed into #selftest, for the browser test to compare with the trace.
  function selftest(lane) {
    var out = {};
    var count = function () { return document.querySelectorAll('#diagram .arrow.delivered').length; };
    out.arrows = count();
    var first = document.querySelector('#diagram .arrow');
    if (first) {
      var m = D.msgs[Number(first.getAttribute('data-m'))];
      first.dispatchEvent(new MouseEvent('click', { bubbles: true }));
      var shown = document.querySelector('#details .this');
      out.clicked = m[9] >= 0 ? m[9] : m[8];
      out.details = shown ? shown.textContent : null;
    }
    var a = view.a, b = view.b;
    zoom(0.1, (a + b) / 2);
    out.zoomedView = [view.a, view.b];
    out.zoomedArrows = count();
    view.a = a; view.b = b; render();
    var cb = document.querySelector('.lane-filter[data-lane="' + lane + '"]');
    cb.checked = false; cb.onchange();
    out.lanesWithout = document.querySelectorAll('#diagram .lane').length;
    out.arrowsWithout = count();
    cb.checked = true; cb.onchange();
    var kb = document.querySelector('.kind-filter');
    if (kb) {
      kb.checked = false; kb.onchange();
      out.hiddenKind = kb.dataset.kind;
      out.arrowsWithoutKind = count();
      kb.checked = true; kb.onchange();
    }
    var t = D.violation && D.violation.inWindow ? D.violation.time : Math.round((D.meta.from + D.meta.to) / 2);
    setCursor(t);
    out.cursor = cursor;
    out.cursorRows = Array.prototype.map.call(document.querySelectorAll('#cursor-panel tr'), function (tr) {
      return tr.textContent;
    });
    out.inflight = document.querySelectorAll('#inflight > div').length;
    out.after = count();
    var pre = document.createElement('pre');
    pre.id = 'selftest';
    pre.textContent = JSON.stringify(out);
    document.body.appendChild(pre);
  }

  tip = document.getElementById('tip');
  header();
  controls();
  interactions();
  // `page.html#view=2000,2400&cursor=2357.6` (milliseconds) opens zoomed, with the cursor
  // set: a link that shows a colleague the instant that matters.
  var hash = {};
  location.hash.replace(/^#/, '').split('&').forEach(function (kv) {
    var p = kv.split('=');
    if (p.length === 2) { hash[p[0]] = p[1]; }
  });
  if (hash.view) {
    var ab = hash.view.split(',').map(Number);
    if (ab.length === 2 && ab[0] < ab[1]) { view.a = ab[0] * 1e6; view.b = ab[1] * 1e6; clampView(); }
  }
  render();
  if (hash.cursor && !isNaN(Number(hash.cursor))) { setCursor(Number(hash.cursor) * 1e6); }
  if (hash.selftest) { selftest(hash.selftest); }
  window.addEventListener('resize', render);
  var st = document.getElementById('render-status');
  st.textContent = 'ok';
  st.dataset.arrows = document.querySelectorAll('#diagram .arrow').length;
}());
