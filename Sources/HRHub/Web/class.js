/*
 * The class screen's script, served at `/assets/class.js` (WebAssets.swift: a SwiftPM resource of the HRHub
 * target, read once at start from the bundle next to the binary). Plain JavaScript, no build step; check it with
 * `node --check Sources/HRHub/Web/class.js`.
 *
 * It joins `/v1/classes/{classId}/ws?role=viewer` and keeps one tile per rider, and a leaderboard column fed by
 * `board` messages: the top 10 and, with `?participant=ID` in the page's URL, that rider's own rank highlighted
 * (the screen then asks for `board=100`, so a rider's rank shows up to rank 100; it stays a viewer, so it never
 * takes over the rider's device connection).
 *
 * - Messages only change state and mark tiles dirty; one requestAnimationFrame pass writes the DOM (only the
 *   fields that changed) and then draws at most `SPARKS_PER_FRAME` sparklines, so 100 riders never cost
 *   more than a slice of a frame. A 1 Hz tick scrolls every sparkline and ages stale and gone riders.
 * - Canvas sizes come from a ResizeObserver, so drawing never forces a layout.
 * - Clock: every ping carries `ct` (local ms); the pong's `ht` gives offset = ht − (ct + rtt / 2), hub minus
 *   local. The pong with the smallest round trip among the last 20 wins. Lag of a sample = local now +
 *   offset − `rts`, shown as the median of the last 50 live samples (with the newest offset).
 * - Reconnects with "equal jitter" exponential backoff (0.5 s doubling to 20 s, half of it random) and
 *   resumes from the `snapshot`: riders missing from it left while the screen was away.
 * - `window.hrhub.summary()` reports what the screen shows (the browser test reads it beside the DOM).
 */
'use strict';
(() => {
    const WINDOW_MS = 60000;          // sparkline span
    const BREAK_MS = 5000;            // a silence this long breaks the sparkline
    const LOCAL_STALE_MS = 6000;      // no sample this long shows "no signal" even without `stale`
    const PING_MS = 2000;
    const WATCHDOG_MS = 8000;         // nothing heard this long: the connection is dead, reconnect
    const BACKOFF_MIN_MS = 500;
    const BACKOFF_MAX_MS = 20000;
    const SPARKS_PER_FRAME = 20;
    const ASPECT = 1.45;              // preferred tile width / height
    const params = new URLSearchParams(location.search);
    const GONE_REMOVE_MS = Number(params.get('gone_ms')) || 30000;
    const TOKEN = params.get('token');  // passed on to the socket, for hubs that require one
    const ME = params.get('participant');  // the rider this screen belongs to, if any
    const BOARD_TOP = 10;

    const $ = (id) => document.getElementById(id);
    const grid = $('grid');
    const classId = decodeURIComponent(location.pathname.replace(/\/+$/, '').split('/').pop() || '');
    $('class-id').textContent = classId;
    document.title = `${classId} · HRHub`;

    const riders = new Map();
    const conn = { ws: null, state: 'connecting', attempt: 0, timer: 0, retryAt: 0, openedAt: 0,
        heardAt: 0, pingId: 0, connects: 0, welcomes: 0, gaps: 0, lastClose: null };
    const clock = { offset: null, pongs: [], fromPong: false };
    const lags = [];                  // local receive time − rts (local minus hub clock) per sample
    const dirty = new Set();
    const sparks = new Set();
    let headerDirty = true;
    let layoutDirty = true;
    let frameScheduled = false;
    const board = { at: null, n: 0, top: [], dirty: false, count: 0 };

    // ---- Time ----
    const hubNow = () => Date.now() + (clock.offset ?? 0);

    function onPong(m) {
        if (typeof m.ct !== 'number' || typeof m.ht !== 'number') return;
        const now = Date.now();
        const rtt = Math.max(0, now - m.ct);
        clock.pongs.push({ rtt, offset: m.ht - (m.ct + rtt / 2) });
        if (clock.pongs.length > 20) clock.pongs.shift();
        clock.offset = clock.pongs.reduce((a, b) => (b.rtt < a.rtt ? b : a)).offset;
        clock.fromPong = true;
    }

    function lagMs() {
        // Only once a pong measured the offset: the welcome's `ht` is older than its frame.
        if (lags.length === 0 || !clock.fromPong) return null;
        const sorted = [...lags].sort((a, b) => a - b);
        // The offset is only known within half a round trip: on a LAN that can make a few ms negative.
        return Math.max(0, Math.round(sorted[sorted.length >> 1] + clock.offset));
    }

    // ---- Riders ----
    function zoneOf(pct) {
        if (pct === null || pct === undefined) return 0;
        return pct >= 90 ? 5 : pct >= 80 ? 4 : pct >= 70 ? 3 : pct >= 60 ? 2 : 1;
    }

    const label = (r) => r.name || r.p;

    function makeRider(p) {
        const el = document.createElement('article');
        el.className = 'tile';
        el.dataset.p = p;
        el.innerHTML = '<div class="in"><div class="top"><span class="name"></span><span class="zone"></span>'
            + '</div><div class="mid"><span><span class="bpm">--</span><span class="unit">bpm</span></span>'
            + '<span class="pct"></span></div><canvas></canvas></div><div class="status"></div>';
        const r = {
            p, name: null, hrmax: null, el, state: 'live', hubStale: false, goneAt: 0,
            bpm: null, pct: null, zone: 0, lastRts: null, hist: [], samples: 0, w: 0, h: 0, shown: {},
            nameEl: el.querySelector('.name'), zoneEl: el.querySelector('.zone'),
            bpmEl: el.querySelector('.bpm'), pctEl: el.querySelector('.pct'),
            statusEl: el.querySelector('.status'), canvas: el.querySelector('canvas'),
        };
        r.ctx = r.canvas.getContext('2d');
        r.canvas.rider = r;
        resizer.observe(r.canvas);
        riders.set(p, r);
        place(r);
        layoutDirty = true;
        return r;
    }

    /// Keeps tiles in name order, so nobody jumps around as riders come and go.
    function place(r) {
        const key = label(r).toLowerCase();
        let before = null;
        for (const other of grid.children) {
            const o = other.rider;
            if (o && o !== r && label(o).toLowerCase().localeCompare(key) > 0) { before = other; break; }
        }
        r.el.rider = r;
        if (r.el.nextSibling !== before || r.el.parentNode !== grid) grid.insertBefore(r.el, before);
    }

    function profile(r, m) {
        const oldLabel = label(r);
        if (typeof m.name === 'string' && m.name) r.name = m.name;
        if (typeof m.hrmax === 'number') r.hrmax = m.hrmax;
        if (label(r) !== oldLabel) place(r);
    }

    function upsert(m) {
        const r = riders.get(m.p) ?? makeRider(m.p);
        profile(r, m);
        if (r.state === 'gone') { r.state = 'live'; r.goneAt = 0; }
        touch(r);
        return r;
    }

    function touch(r) {
        dirty.add(r);
        headerDirty = true;
        schedule();
    }

    function sample(r, m, live) {
        if (typeof m.bpm !== 'number') return;
        if (r.state === 'gone') r.state = 'live';
        const rts = typeof m.rts === 'number' ? m.rts : hubNow();
        r.bpm = m.bpm;
        if (m.bpm > 0) {
            r.pct = typeof m.pct === 'number' ? m.pct : r.hrmax ? Math.round((100 * m.bpm) / r.hrmax) : null;
            r.zone = typeof m.zone === 'number' ? m.zone : zoneOf(r.pct);
        } else {
            r.pct = null;  // bpm 0: the device has no reading (for example no skin contact)
        }
        if (r.lastRts === null || rts >= r.lastRts) {
            r.hist.push(rts, m.bpm > 0 ? m.bpm : NaN);
            r.lastRts = rts;
            // Drawing trims too, but a hidden tab draws nothing: keep the history bounded here as well.
            if (r.hist.length > 4096) r.hist.splice(0, r.hist.length - 2048);
        }
        if (live) {
            r.samples += 1;
            r.hubStale = false;
            lags.push(Date.now() - rts);
            if (lags.length > 50) lags.shift();
        }
        sparks.add(r);
        touch(r);
    }

    function gone(r) {
        if (r.state === 'gone') return;
        r.state = 'gone';
        r.goneAt = performance.now();
        r.hubStale = false;
        touch(r);
    }

    function remove(r) {
        resizer.unobserve(r.canvas);
        r.el.remove();
        riders.delete(r.p);
        dirty.delete(r);
        sparks.delete(r);
        layoutDirty = true;
        headerDirty = true;
        schedule();
    }

    // ---- Messages ----
    function handle(m) {
        switch (m.t) {
        case 'welcome':
            conn.welcomes += 1;
            if (typeof m.ht === 'number' && clock.offset === null) clock.offset = m.ht - Date.now();
            setConn('live');
            break;
        case 'snapshot': {
            const present = new Set();
            for (const s of Array.isArray(m.participants) ? m.participants : []) {
                if (typeof s.p !== 'string') continue;
                present.add(s.p);
                const r = upsert(s);
                r.hubStale = false;
                if (s.last) sample(r, s.last, false);
            }
            for (const r of riders.values()) if (!present.has(r.p)) gone(r);
            break;
        }
        case 'join': upsert(m); break;
        case 'leave': { const r = riders.get(m.p); if (r) gone(r); break; }
        case 'hr': sample(riders.get(m.p) ?? upsert(m), m, true); break;
        case 'stale': { const r = riders.get(m.p); if (r) { r.hubStale = true; touch(r); } break; }
        case 'live': { const r = riders.get(m.p); if (r) { r.hubStale = false; touch(r); } break; }
        case 'gap': conn.gaps += typeof m.count === 'number' ? m.count : 1; break;
        case 'pong': onPong(m); headerDirty = true; break;
        case 'board':
            if (!Array.isArray(m.top)) break;
            board.at = m.at; board.n = m.n; board.top = m.top; board.count += 1; board.dirty = true;
            schedule();
            break;
        case 'error': console.warn('hub error', m); break;
        default: break;
        }
    }

    // ---- Connection ----
    function setConn(state) {
        conn.state = state;
        headerDirty = true;
        schedule();
    }

    function connect() {
        clearTimeout(conn.timer);
        const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
        const query = `role=viewer&board=${ME ? 100 : BOARD_TOP}`
            + `${TOKEN ? `&token=${encodeURIComponent(TOKEN)}` : ''}`;
        const url = `${scheme}//${location.host}/v1/classes/${encodeURIComponent(classId)}/ws?${query}`;
        conn.connects += 1;
        conn.heardAt = performance.now();
        setConn('connecting');
        let ws;
        try {
            ws = new WebSocket(url, ['hrhub.v1.json']);
        } catch (error) {
            console.warn(error);
            retry();
            return;
        }
        conn.ws = ws;
        ws.onopen = () => {
            if (ws !== conn.ws) return;
            conn.openedAt = performance.now();
            // A few quick pings at first: the page is busy loading, and the fastest round trip wins.
            for (const delay of [0, 300, 800]) setTimeout(ping, delay);
        };
        ws.onmessage = (event) => {
            if (ws !== conn.ws || typeof event.data !== 'string') return;
            conn.heardAt = performance.now();
            let messages;
            try { messages = JSON.parse(event.data); } catch { return; }
            for (const m of Array.isArray(messages) ? messages : [messages]) {
                if (m && typeof m.t === 'string') handle(m);
            }
        };
        ws.onclose = (event) => {
            if (ws !== conn.ws) return;
            conn.lastClose = event.code;
            drop();
        };
    }

    /// Forgets the current socket and schedules the next attempt.
    function drop() {
        const ws = conn.ws;
        conn.ws = null;
        if (ws && ws.readyState <= WebSocket.OPEN) ws.close();
        // A connection that lasted a while was a success: start the backoff again from the bottom.
        if (conn.openedAt && performance.now() - conn.openedAt > 10000) conn.attempt = 0;
        conn.openedAt = 0;
        retry();
    }

    function retry() {
        const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** conn.attempt);
        const delay = base / 2 + Math.random() * (base / 2);
        conn.attempt += 1;
        conn.retryAt = performance.now() + delay;
        conn.timer = setTimeout(connect, delay);
        setConn('reconnecting');
    }

    function ping() {
        if (!conn.ws || conn.ws.readyState !== WebSocket.OPEN) return;
        conn.pingId += 1;
        conn.ws.send(JSON.stringify({ t: 'ping', id: conn.pingId, ct: Date.now() }));
    }

    // ---- Drawing ----
    const resizer = new ResizeObserver((entries) => {
        for (const entry of entries) {
            const r = entry.target.rider;
            if (!r) continue;
            const box = entry.contentBoxSize?.[0];
            r.w = box ? box.inlineSize : entry.contentRect.width;
            r.h = box ? box.blockSize : entry.contentRect.height;
            sparks.add(r);
        }
        schedule();
    });

    function schedule() {
        if (frameScheduled) return;
        frameScheduled = true;
        requestAnimationFrame(frame);
    }

    function frame() {
        frameScheduled = false;
        if (layoutDirty) layout();
        for (const r of dirty) render(r);
        dirty.clear();
        if (headerDirty) header();
        if (board.dirty) renderBoard();
        let budget = SPARKS_PER_FRAME;
        for (const r of sparks) {
            sparks.delete(r);
            draw(r);
            if (--budget === 0) break;
        }
        if (sparks.size > 0) schedule();
    }

    function set(r, key, value, apply) {
        if (r.shown[key] === value) return;
        r.shown[key] = value;
        apply(value);
    }

    function render(r) {
        const stale = r.state !== 'gone' && (r.hubStale || (r.lastRts !== null
            && hubNow() - r.lastRts > LOCAL_STALE_MS));
        const state = r.state === 'gone' ? 'gone' : stale ? 'stale' : 'live';
        set(r, 'state', state, (v) => { r.el.dataset.state = v; });
        const tileClass = `tile z${r.zone}${state === 'live' ? '' : ` ${state}`}`;
        set(r, 'class', tileClass, (v) => { r.el.className = v; });
        set(r, 'name', label(r), (v) => { r.nameEl.textContent = v; });
        set(r, 'zone', r.zone ? `Z${r.zone}` : '', (v) => { r.zoneEl.textContent = v; });
        set(r, 'bpm', r.bpm ? String(r.bpm) : '--', (v) => { r.bpmEl.textContent = v; });
        set(r, 'pct', r.pct === null ? '' : String(r.pct), (v) => {
            r.pctEl.innerHTML = v ? `${v}<small>%</small>` : '';
        });
        set(r, 'status', state === 'gone' ? 'LEFT' : state === 'stale' ? 'NO SIGNAL' : '', (v) => {
            r.statusEl.textContent = v;
        });
    }

    function draw(r) {
        const dpr = window.devicePixelRatio || 1;
        const width = Math.round(r.w * dpr);
        const height = Math.round(r.h * dpr);
        if (width === 0 || height === 0) return;
        const c = r.canvas;
        if (c.width !== width || c.height !== height) { c.width = width; c.height = height; }
        const ctx = r.ctx;
        ctx.clearRect(0, 0, width, height);
        const end = hubNow();
        const start = end - WINDOW_MS;
        const hist = r.hist;
        let first = 0;
        while (first < hist.length && hist[first] < start - BREAK_MS) first += 2;
        if (first > 0) hist.splice(0, first);
        let lo = Infinity;
        let hi = -Infinity;
        for (let i = 1; i < hist.length; i += 2) {
            const bpm = hist[i];
            if (bpm < lo) lo = bpm;
            if (bpm > hi) hi = bpm;
        }
        if (lo === Infinity) return;
        const mid = (lo + hi) / 2;
        const span = Math.max(24, hi - lo) * 1.25;
        const pad = height * 0.08;
        const x = (t) => ((t - start) / WINDOW_MS) * width;
        const y = (bpm) => pad + (1 - (bpm - (mid - span / 2)) / span) * (height - 2 * pad);
        ctx.lineWidth = Math.max(2, height * 0.045);
        ctx.lineJoin = 'round';
        ctx.lineCap = 'round';
        // In the tile's ink, its CSS `color` (white on blue and red, near-black on grey, green and orange): a
        // style lookup, not a layout.
        const ink = getComputedStyle(c).color;
        ctx.strokeStyle = ink;
        ctx.fillStyle = ink;
        let run = [];
        const flush = () => {
            if (run.length >= 2) {
                ctx.beginPath();
                ctx.moveTo(run[0], height);
                for (let i = 0; i < run.length; i += 2) ctx.lineTo(run[i], run[i + 1]);
                ctx.lineTo(run[run.length - 2], height);
                ctx.closePath();
                ctx.globalAlpha = 0.16;
                ctx.fill();
                ctx.globalAlpha = 0.92;
                ctx.beginPath();
                ctx.moveTo(run[0], run[1]);
                for (let i = 2; i < run.length; i += 2) ctx.lineTo(run[i], run[i + 1]);
                if (run.length === 2) ctx.lineTo(run[0] + 0.1, run[1]);
                ctx.stroke();
            }
            run = [];
        };
        let previous = -Infinity;
        for (let i = 0; i < hist.length; i += 2) {
            const t = hist[i];
            const bpm = hist[i + 1];
            if (Number.isNaN(bpm) || t - previous > BREAK_MS) flush();
            if (!Number.isNaN(bpm)) run.push(x(t), y(bpm));
            previous = t;
        }
        flush();
    }

    /// The rows the leaderboard shows: the top 10, then the screen's own rider when ranked below them.
    function boardRows() {
        const rows = board.top.slice(0, BOARD_TOP);
        const mine = ME ? board.top.find((e) => e.p === ME) : null;
        if (mine && mine.rank > BOARD_TOP) rows.push(mine);
        return rows;
    }

    function renderBoard() {
        board.dirty = false;
        const list = $('board-list');
        list.textContent = '';
        let previous = 0;
        for (const e of boardRows()) {
            if (e.rank > previous + 1) {
                const more = document.createElement('li');
                more.className = 'more';
                more.textContent = '⋯';
                list.append(more);
            }
            previous = e.rank;
            const li = document.createElement('li');
            li.className = `z${e.zone || 0}${e.p === ME ? ' me' : ''}`;
            li.dataset.p = e.p;
            const r = riders.get(e.p);
            const cells = [['rank', String(e.rank)], ['who', r ? label(r) : e.p], ['pts', e.points.toFixed(1)]];
            for (const [cls, text] of cells) {
                const span = document.createElement('span');
                span.className = cls;
                span.textContent = text;
                li.append(span);
            }
            list.append(li);
        }
        $('board-n').textContent = `${board.n}`;
        const aside = $('board');
        if (aside.hidden) { aside.hidden = false; layoutDirty = true; schedule(); }
    }

    function header() {
        headerDirty = false;
        let present = 0;
        for (const r of riders.values()) if (r.state !== 'gone') present += 1;
        $('riders').textContent = `${present} ${present === 1 ? 'rider' : 'riders'}`;
        $('waiting').hidden = riders.size > 0;
        const pill = $('conn');
        let text = conn.state;
        if (conn.state === 'reconnecting') {
            const seconds = Math.max(0, Math.ceil((conn.retryAt - performance.now()) / 1000));
            text = seconds > 0 ? `reconnecting in ${seconds} s` : 'reconnecting';
        }
        pill.textContent = text;
        pill.className = `pill ${conn.state === 'live' ? 'live' : conn.attempt > 3 ? 'offline' : ''}`;
        pill.dataset.state = conn.state;
        const lag = lagMs();
        $('lag').textContent = lag === null ? 'lag –' : `lag ${lag} ms`;
        $('clock').textContent = new Date().toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
    }

    /// Picks the column count that makes tiles largest while all of them fit (TV); two columns that
    /// scroll on a phone.
    function layout() {
        layoutDirty = false;
        const count = Math.max(1, riders.size);
        const gap = Math.round(Math.max(6, Math.min(16, innerWidth / 160)));
        const width = grid.clientWidth - 2 * gap;
        const height = grid.clientHeight - 2 * gap;
        let cols;
        let rowHeight;
        if (innerWidth < 700) {
            cols = innerWidth < 360 ? 1 : 2;
            rowHeight = ((width - gap * (cols - 1)) / cols) * 0.78;
        } else {
            let best = 0;
            cols = 1;
            for (let c = 1; c <= count; c += 1) {
                const rows = Math.ceil(count / c);
                const w = (width - gap * (c - 1)) / c;
                const h = (height - gap * (rows - 1)) / rows;
                const size = Math.min(w, h * ASPECT);
                if (size > best) { best = size; cols = c; }
            }
            const rows = Math.ceil(count / cols);
            const w = (width - gap * (cols - 1)) / cols;
            rowHeight = Math.min((height - gap * (rows - 1)) / rows, (w / ASPECT) * 1.3);
        }
        grid.style.setProperty('--gap', `${gap}px`);
        grid.style.setProperty('--cols', String(cols));
        grid.style.setProperty('--row-h', `${Math.max(96, Math.floor(rowHeight))}px`);
    }

    // ---- Housekeeping, once a second ----
    function tick() {
        const now = performance.now();
        for (const r of riders.values()) {
            if (r.state === 'gone' && now - r.goneAt > GONE_REMOVE_MS) { remove(r); continue; }
            dirty.add(r);
            sparks.add(r);
        }
        if (conn.ws && now - conn.heardAt > WATCHDOG_MS) drop();
        headerDirty = true;
        schedule();
    }

    window.addEventListener('resize', () => { layoutDirty = true; schedule(); });
    setInterval(tick, 1000);
    setInterval(ping, PING_MS);
    window.hrhub = {
        conn, clock, riders,
        lagMs,
        summary: () => ({
            classId,
            connection: conn.state,
            connects: conn.connects,
            welcomes: conn.welcomes,
            gaps: conn.gaps,
            lagMs: lagMs(),
            board: { at: board.at, n: board.n, boards: board.count, me: ME,
                rows: [...$('board-list').querySelectorAll('li[data-p]')].map((li) => ({
                    p: li.dataset.p, rank: Number(li.querySelector('.rank').textContent),
                    points: Number(li.querySelector('.pts').textContent), me: li.classList.contains('me') })) },
            riders: [...riders.values()].map((r) => ({
                p: r.p, name: label(r), bpm: r.bpm, pct: r.pct, zone: r.zone, state: r.shown.state,
                points: r.hist.length / 2, samples: r.samples,
            })),
        }),
    };
    connect();
})();
