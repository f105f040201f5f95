// The post-class page served at `GET /classes/{classId}/summary`: one card per rider, in rank order, with their
// rank and points, a heart-rate curve over the ride and time-in-zone bars in the zone colours. Its script reads
// `GET /v1/classes/{classId}/summary` and `GET /v1/classes/{classId}/record` (with the page's `?token=`) and
// draws SVG: no CDN, no canvas, works offline.

extension WebAssets {
    /// `GET /classes/{classId}/summary`.
    static let summaryPage: [UInt8] = Array(
        document(
            title: "HRHub class summary", style: sharedStyle + summaryStyle, body: summaryBody,
            script: "<script>\n\(summaryScript)\n</script>"
        ).utf8)

    static let summaryStyle = #"""
        main { width: min(1200px, 100%); margin: 0 auto; padding: clamp(12px, 3vw, 40px); }
        h1 { font-size: clamp(24px, 4vw, 44px); margin: 0 0 0.2em; overflow-wrap: anywhere; }
        .lead { color: var(--muted); margin: 0 0 1.2em; font-size: clamp(15px, 1.8vw, 20px); }
        #riders { display: grid; gap: 14px; grid-template-columns: repeat(auto-fill, minmax(min(100%, 520px), 1fr)); }
        .card { background: var(--panel); border-radius: 14px; padding: 16px 18px; }
        .card header { display: flex; align-items: baseline; gap: 0.6em; font-size: 22px; }
        .card .rank { font-weight: 900; font-size: 1.5em; min-width: 1.8em; }
        .card .who { flex: 1; min-width: 0; font-weight: 800; overflow: hidden; text-overflow: ellipsis;
            white-space: nowrap; }
        .card .pts { font-weight: 900; font-variant-numeric: tabular-nums; }
        .card .pts small { color: var(--muted); font-weight: 600; }
        .card .stats { color: var(--muted); font-size: 15px; margin: 0.2em 0 0.6em; font-variant-numeric: tabular-nums; }
        .card svg { display: block; width: 100%; height: auto; }
        .curve { fill: none; stroke: var(--fg); stroke-width: 2; stroke-linejoin: round; }
        .area { fill: var(--fg); opacity: 0.08; }
        .axis { fill: var(--muted); font-size: 11px; }
        .z1 { fill: var(--z1); } .z2 { fill: var(--z2); } .z3 { fill: var(--z3); }
        .z4 { fill: var(--z4); } .z5 { fill: var(--z5); }
        .zones text { fill: var(--fg); font-size: 12px; font-weight: 700; }
        #status { color: var(--muted); font-size: 18px; }
        """#

    static let summaryBody = #"""
        <main>
        <h1 id="title">Class summary</h1>
        <p class="lead">Ranks by points: a minute in zone 1, 2, 3, 4, 5 earns the hub's zone points. <a id="live"
        href="#">Back to the live class</a></p>
        <p id="status">Loading…</p>
        <section id="riders"></section>
        </main>
        """#

    static let summaryScript = #"""
        'use strict';
        (() => {
            const params = new URLSearchParams(location.search);
            const token = params.get('token');
            const parts = location.pathname.replace(/\/+$/, '').split('/');
            const classId = decodeURIComponent(parts[parts.length - 2] || '');
            const suffix = token ? `?token=${encodeURIComponent(token)}` : '';
            document.title = `${classId} · summary · HRHub`;
            document.getElementById('title').textContent = `${classId}: class summary`;
            document.getElementById('live').href = `/classes/${encodeURIComponent(classId)}${suffix}`;
            const status = document.getElementById('status');
            const SVG = 'http://www.w3.org/2000/svg';
            const W = 520;
            const H = 150;
            const BAR = 26;
            const POINTS = 400;  // most points one curve is drawn with

            const el = (name, attrs, text) => {
                const node = document.createElementNS(SVG, name);
                for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
                if (text !== undefined) node.textContent = text;
                return node;
            };
            const clock = (seconds) => {
                const s = Math.round(seconds);
                return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
            };

            /// The rider's samples bucketed to at most POINTS (mean bpm per bucket; bpm 0 means no reading).
            function downsample(samples) {
                const readings = samples.filter((s) => s.bpm > 0).sort((a, b) => a.ts - b.ts);
                if (readings.length <= POINTS) return readings.map((s) => [s.ts, s.bpm]);
                const t0 = readings[0].ts;
                const span = readings[readings.length - 1].ts - t0 || 1;
                const sums = new Map();
                for (const s of readings) {
                    const bucket = Math.min(POINTS - 1, Math.floor(((s.ts - t0) / span) * POINTS));
                    const acc = sums.get(bucket) ?? [0, 0, 0];
                    acc[0] += s.ts; acc[1] += s.bpm; acc[2] += 1;
                    sums.set(bucket, acc);
                }
                return [...sums.keys()].sort((a, b) => a - b).map((k) => {
                    const [ts, bpm, n] = sums.get(k);
                    return [ts / n, bpm / n];
                });
            }

            function curve(points) {
                const svg = el('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': 'heart rate' });
                if (points.length === 0) {
                    svg.append(el('text', { x: 8, y: H / 2, class: 'axis' }, 'no heart-rate readings'));
                    return svg;
                }
                const t0 = points[0][0];
                const t1 = points[points.length - 1][0];
                let lo = Math.min(...points.map((p) => p[1]));
                let hi = Math.max(...points.map((p) => p[1]));
                lo = Math.max(0, Math.floor((lo - 5) / 10) * 10);
                hi = Math.ceil((hi + 5) / 10) * 10;
                const x = (t) => 34 + ((t - t0) / (t1 - t0 || 1)) * (W - 40);
                const y = (bpm) => 8 + (1 - (bpm - lo) / (hi - lo || 1)) * (H - 28);
                const line = points.map(([t, bpm], i) => `${i ? 'L' : 'M'}${x(t).toFixed(1)},${y(bpm).toFixed(1)}`);
                const d = line.join('');
                svg.append(el('path', { class: 'area', d: `${d}L${x(t1).toFixed(1)},${H - 20}L${x(t0).toFixed(1)},${H - 20}Z` }));
                svg.append(el('path', { class: 'curve', d }));
                svg.append(el('text', { x: 0, y: y(hi) + 4, class: 'axis' }, String(hi)));
                svg.append(el('text', { x: 0, y: y(lo) + 4, class: 'axis' }, String(lo)));
                svg.append(el('text', { x: 34, y: H - 4, class: 'axis' }, '0:00'));
                svg.append(el('text', { x: W - 6, y: H - 4, class: 'axis', 'text-anchor': 'end' },
                    clock((t1 - t0) / 1000)));
                return svg;
            }

            function zoneBars(zoneSeconds) {
                const total = zoneSeconds.reduce((a, b) => a + b, 0);
                const svg = el('svg', { viewBox: `0 0 ${W} ${BAR}`, class: 'zones', role: 'img',
                    'aria-label': 'time in zone' });
                if (total <= 0) {
                    svg.append(el('rect', { x: 0, y: 0, width: W, height: BAR, rx: 6, fill: 'var(--z0)' }));
                    svg.append(el('text', { x: 8, y: 17 }, 'no time in a zone'));
                    return svg;
                }
                let at = 0;
                zoneSeconds.forEach((seconds, index) => {
                    if (seconds <= 0) return;
                    const width = (seconds / total) * W;
                    const rect = el('rect', { x: at, y: 0, width, height: BAR, class: `z${index + 1}` });
                    rect.append(el('title', {}, `zone ${index + 1}: ${clock(seconds)}`));
                    svg.append(rect);
                    if (width > 56) svg.append(el('text', { x: at + 6, y: 17 }, `Z${index + 1} ${clock(seconds)}`));
                    at += width;
                });
                return svg;
            }

            function card(rider, samples) {
                const article = document.createElement('article');
                article.className = 'card';
                article.dataset.p = rider.p;
                const header = document.createElement('header');
                const cells = [['rank', `#${rider.rank}`], ['who', rider.name || rider.p],
                    ['pts', `${rider.points.toFixed(1)}`]];
                for (const [cls, text] of cells) {
                    const span = document.createElement('span');
                    span.className = cls;
                    span.textContent = text;
                    header.append(span);
                }
                header.lastChild.append(Object.assign(document.createElement('small'), { textContent: ' pts' }));
                const stats = document.createElement('div');
                stats.className = 'stats';
                stats.textContent = `avg ${rider.avg_bpm} · max ${rider.max_bpm} bpm · `
                    + `${clock((rider.last_ts - rider.first_ts) / 1000)} · ${rider.samples} samples`;
                article.append(header, stats, curve(downsample(samples)), zoneBars(rider.zone_seconds));
                return article;
            }

            async function json(path) {
                const response = await fetch(path + suffix, { cache: 'no-store' });
                if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`);
                return response.json();
            }

            async function load() {
                const base = `/v1/classes/${encodeURIComponent(classId)}`;
                const [riders, rows] = await Promise.all([json(`${base}/summary`), json(`${base}/record`)]);
                const byRider = new Map();
                for (const row of rows) {
                    if (!byRider.has(row.p)) byRider.set(row.p, []);
                    byRider.get(row.p).push(row);
                }
                const section = document.getElementById('riders');
                for (const rider of riders) section.append(card(rider, byRider.get(rider.p) ?? []));
                status.textContent = `${riders.length} ${riders.length === 1 ? 'rider' : 'riders'}`;
                window.hrhubSummary = { ready: true,
                    riders: riders.map((r) => ({ p: r.p, rank: r.rank, points: r.points })) };
            }

            load().catch((error) => {
                status.textContent = `Cannot load the summary: ${error.message}`;
                window.hrhubSummary = { ready: true, error: String(error.message), riders: [] };
            });
        })();
        """#
}
