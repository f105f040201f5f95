// The class picker served at `GET /`: lists the classes the hub remembers (from `GET /v1/classes/live`,
// refreshed every few seconds) as links to their class screens, and opens any class id typed in.

extension WebAssets {
    static let pickerStyle = #"""
        body { display: flex; flex-direction: column; align-items: center; }
        main { width: min(1100px, 100%); padding: clamp(16px, 4vw, 48px); }
        h1 { font-size: clamp(28px, 5vw, 56px); margin: 0 0 0.2em; letter-spacing: -0.02em; }
        h1 span { color: var(--z5); }
        p.lead { color: var(--muted); font-size: clamp(16px, 2vw, 22px); margin: 0 0 1.5em; }
        #classes { list-style: none; padding: 0; margin: 0; display: grid; gap: 14px;
            grid-template-columns: repeat(auto-fill, minmax(min(100%, 300px), 1fr)); }
        #classes a { display: block; text-decoration: none; background: var(--panel); border-radius: 14px;
            padding: 22px 24px; border-left: 10px solid var(--z3); }
        #classes a:hover, #classes a:focus { background: #1f2937; outline: none; }
        .cid { font-size: clamp(24px, 3vw, 36px); font-weight: 800; display: block; overflow-wrap: anywhere; }
        .meta { color: var(--muted); font-size: 18px; }
        #empty { color: var(--muted); font-size: 20px; }
        code { background: var(--panel); padding: 0.1em 0.4em; border-radius: 6px; }
        form { margin-top: 2em; display: flex; gap: 10px; flex-wrap: wrap; }
        input, button { font: inherit; font-size: 20px; border-radius: 10px; border: 1px solid #374151;
            padding: 10px 14px; background: var(--panel); color: var(--fg); }
        button { background: var(--z2); border-color: var(--z2); font-weight: 700; cursor: pointer; }
        #status { color: var(--muted); font-size: 14px; margin-top: 1.5em; }
        """#

    static let pickerBody = #"""
        <main>
        <h1>HR<span>Hub</span> classes</h1>
        <p class="lead">Pick a class to put its live heart rates on this screen.</p>
        <ul id="classes"></ul>
        <p id="empty" hidden>No class is live on this hub right now. Start one, or run the hub with
        <code>--demo</code> for the simulated class <code>demo</code>.</p>
        <form id="open">
        <input id="cid" name="cid" placeholder="class id" pattern="[A-Za-z0-9_\-]{1,64}" required
            autocomplete="off" aria-label="class id">
        <button type="submit">Open class</button>
        </form>
        <p id="status"></p>
        </main>
        """#

    static let pickerScript = #"""
        'use strict';
        (() => {
            const list = document.getElementById('classes');
            const empty = document.getElementById('empty');
            const status = document.getElementById('status');
            const plural = (n, one, many) => `${n} ${n === 1 ? one : many}`;
            // A token in this page's URL goes on to the class screens (and from there to their sockets).
            const token = new URLSearchParams(location.search).get('token');
            const screen = (id) => `/classes/${encodeURIComponent(id)}${
                token ? `?token=${encodeURIComponent(token)}` : ''}`;

            function render(classes) {
                const items = classes.map((c) => {
                    const li = document.createElement('li');
                    const a = document.createElement('a');
                    a.href = screen(c.id);
                    a.dataset.classId = c.id;
                    const id = document.createElement('span');
                    id.className = 'cid';
                    id.textContent = c.id;
                    const meta = document.createElement('span');
                    meta.className = 'meta';
                    meta.textContent = `${plural(c.participants, 'rider', 'riders')} · ${
                        plural(c.viewers, 'screen', 'screens')}`;
                    a.append(id, meta);
                    li.append(a);
                    return li;
                });
                list.replaceChildren(...items);
                empty.hidden = classes.length > 0;
            }

            async function refresh() {
                try {
                    const response = await fetch('/v1/classes/live', { cache: 'no-store' });
                    if (!response.ok) throw new Error(`HTTP ${response.status}`);
                    render(await response.json());
                    status.textContent = `Updated ${new Date().toLocaleTimeString()}`;
                } catch (error) {
                    status.textContent = `Cannot reach the hub (${error.message}); retrying…`;
                }
            }

            document.getElementById('open').addEventListener('submit', (event) => {
                event.preventDefault();
                const id = document.getElementById('cid').value.trim();
                if (id) location.href = screen(id);
            });
            refresh();
            setInterval(refresh, 3000);
        })();
        """#
}
