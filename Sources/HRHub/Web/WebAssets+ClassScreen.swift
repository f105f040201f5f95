// The class screen served at `GET /classes/{classId}`: markup and style. Its script is in
// WebAssets+ClassScript.swift.
//
// Sizes follow the tiles, not the window: each tile is a size container and its text is sized in container
// units, and the script picks the column count that makes the tiles as large as the screen allows. So
// 12 riders fill a 1080p TV with numbers readable across a studio, 100 riders still fit on it, and a phone
// gets two scrolling columns.

extension WebAssets {
    static let classStyle = #"""
        body { display: flex; flex-direction: column; overflow: hidden; }
        .bar { display: flex; align-items: center; gap: clamp(10px, 2vw, 40px); flex-wrap: wrap;
            padding: clamp(6px, 1vh, 16px) clamp(10px, 1.5vw, 28px); background: var(--panel);
            font-size: clamp(15px, 2.3vh, 40px); font-variant-numeric: tabular-nums; }
        .bar .home { text-decoration: none; font-weight: 800; color: var(--muted); }
        .bar .class { font-weight: 800; font-size: 1.35em; letter-spacing: -0.01em; overflow-wrap: anywhere; }
        .bar .spacer { flex: 1; }
        .bar .muted { color: var(--muted); }
        .pill { padding: 0.15em 0.7em; border-radius: 999px; font-weight: 700; font-size: 0.85em;
            background: #92400e; white-space: nowrap; }
        .pill.live { background: #166534; }
        .pill.offline { background: #991b1b; }
        #grid { flex: 1 1 0; min-height: 0; overflow-y: auto; display: grid; gap: var(--gap, 10px);
            padding: var(--gap, 10px); align-content: start;
            grid-template-columns: repeat(var(--cols, 4), minmax(0, 1fr)); grid-auto-rows: var(--row-h, 240px); }
        #waiting { position: fixed; inset: 40% 0 auto; text-align: center; color: var(--muted);
            font-size: clamp(20px, 4vh, 56px); pointer-events: none; }
        .tile { --zc: var(--z0); --ink: var(--fg); container-type: size; position: relative; overflow: hidden;
            border-radius: 1.2vmin; background: var(--zc); color: var(--ink);
            transition: background-color 0.8s, opacity 0.8s, filter 0.8s; }
        /* The tile is the size container; its own padding could not use its own container units. */
        .tile .in { height: 100%; display: flex; flex-direction: column; padding: 5cqh 5cqw 0; }
        .tile.z1 { --zc: var(--z1); --ink: var(--bg); }
        .tile.z2 { --zc: var(--z2); }
        .tile.z3 { --zc: var(--z3); --ink: var(--bg); }
        .tile.z4 { --zc: var(--z4); --ink: var(--bg); }
        .tile.z5 { --zc: var(--z5); }
        .tile .top { display: flex; align-items: baseline; gap: 4cqw; font-size: min(14cqh, 10cqw); font-weight: 700;
            line-height: 1.1; }
        .tile .name { flex: 1; min-width: 0; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
        .tile .zone { font-weight: 800; opacity: 0.9; }
        .tile .mid { display: flex; align-items: baseline; justify-content: space-between; gap: 3cqw;
            font-variant-numeric: tabular-nums; line-height: 1; margin-top: 1cqh; }
        .tile .bpm { font-size: min(44cqh, 26cqw); font-weight: 800; letter-spacing: -0.03em; }
        .tile .unit { font-size: min(10cqh, 6.5cqw); font-weight: 700; opacity: 0.8; margin-left: 1cqw; }
        .tile .pct { font-size: min(20cqh, 12cqw); white-space: nowrap; font-weight: 800; }
        .tile .pct small { font-size: 0.6em; opacity: 0.8; }
        .tile canvas { flex: 1; min-height: 0; width: calc(100% + 10cqw); margin: 1cqh -5cqw 0; display: block; }
        .tile .status { position: absolute; right: 4cqw; bottom: 4cqh; font-size: min(10cqh, 7cqw); font-weight: 800;
            letter-spacing: 0.06em; padding: 0.15em 0.5em; border-radius: 0.4em; background: rgb(0 0 0 / 0.55);
            color: var(--fg); display: none; }
        .tile.stale { opacity: 0.45; }
        .tile.stale .status, .tile.gone .status { display: block; }
        .tile.gone { opacity: 0.3; filter: grayscale(1); }
        .tile.gone .bpm { text-decoration: line-through; text-decoration-thickness: 0.06em; }
        """#

    static let classBody = #"""
        <header class="bar">
        <a class="home" href="/" title="All classes">HRHub</a>
        <span class="class" id="class-id"></span>
        <span id="riders">0 riders</span>
        <span class="spacer"></span>
        <span class="pill" id="conn">connecting</span>
        <span id="lag" class="muted" title="hub receive time to this screen, median of recent samples">lag –</span>
        <span id="clock" class="muted"></span>
        </header>
        <main id="grid" aria-live="off"></main>
        <div id="waiting">Waiting for riders…</div>
        """#
}
