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
        .stage { flex: 1 1 0; min-height: 0; display: flex; }
        #grid { flex: 1 1 0; min-width: 0; overflow-y: auto; display: grid; gap: var(--gap, 10px);
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
        #board { width: clamp(220px, 19vw, 440px); background: var(--panel); padding: clamp(8px, 1.2vh, 18px);
            font-size: clamp(14px, 2.1vh, 34px); font-variant-numeric: tabular-nums; overflow: hidden; }
        #board[hidden] { display: none; }
        #board h2 { margin: 0 0 0.4em; font-size: 1em; color: var(--muted); letter-spacing: 0.08em;
            text-transform: uppercase; display: flex; justify-content: space-between; }
        #board ol { list-style: none; margin: 0; padding: 0; }
        #board li { display: flex; align-items: center; gap: 0.5em; padding: 0.25em 0.4em; border-radius: 0.35em;
            border-left: 0.35em solid var(--z0); margin-bottom: 0.15em; }
        #board li.z1 { border-color: var(--z1); } #board li.z2 { border-color: var(--z2); }
        #board li.z3 { border-color: var(--z3); } #board li.z4 { border-color: var(--z4); }
        #board li.z5 { border-color: var(--z5); }
        #board li.me { background: var(--fg); color: var(--bg); font-weight: 800; }
        #board li.more { border: 0; color: var(--muted); justify-content: center; padding: 0; }
        #board .rank { width: 2.2em; text-align: right; font-weight: 800; }
        #board .who { flex: 1; min-width: 0; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
        #board .pts { font-weight: 800; }
        @media (max-width: 699px) {
            .stage { flex-direction: column-reverse; }
            #board { width: auto; max-height: 34vh; overflow-y: auto; }
        }
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
        <div class="stage">
        <main id="grid" aria-live="off"></main>
        <aside id="board" hidden aria-label="leaderboard"><h2><span>Leaderboard</span><span id="board-n"></span></h2>
        <ol id="board-list"></ol></aside>
        </div>
        <div id="waiting">Waiting for riders…</div>
        """#
}
