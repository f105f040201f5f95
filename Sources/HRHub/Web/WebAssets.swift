/// The web pages the hub serves, built into the binary.
///
/// Each page is one self-contained HTML document (its CSS and JavaScript inline, no CDN, no build step),
/// kept as Swift raw string literals in the files beside this one. Raw strings rather than SwiftPM
/// resources: a resource bundle lives in a `hrhub_HRHub.resources` directory next to the executable and
/// `Bundle.module` traps when it is missing, so a binary copied alone to a server would crash on the first
/// page view. With the text compiled in, the binary is the whole product.
///
/// The pages take everything they need from their own URL (the class id from `/classes/{id}`), so they are
/// static bytes, assembled once.
enum WebAssets {
    /// `GET /`: the live classes, each a link to its class screen.
    static let pickerPage: [UInt8] = Array(
        document(title: "HRHub classes", style: sharedStyle + pickerStyle, body: pickerBody, script: pickerScript)
            .utf8)

    /// `GET /classes/{classId}`: the class screen.
    static let classPage: [UInt8] = Array(
        document(title: "HRHub class", style: sharedStyle + classStyle, body: classBody, script: classScript)
            .utf8)

    static func document(title: String, style: String, body: String, script: String) -> String {
        """
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <meta name="color-scheme" content="dark">
        <link rel="icon" href="data:,">
        <title>\(title)</title>
        <style>
        \(style)
        </style>
        </head>
        <body>
        \(body)
        <script>
        \(script)
        </script>
        </body>
        </html>

        """
    }

    /// Colours and type shared by both pages: dark background, zone colours readable across a room.
    static let sharedStyle = #"""
        :root {
            color-scheme: dark;
            --bg: #0b0f14;
            --panel: #111827;
            --fg: #f8fafc;
            --muted: #94a3b8;
            --z0: #334155;
            --z1: #6b7280;
            --z2: #1d6fe0;
            --z3: #15a34a;
            --z4: #ea6a0c;
            --z5: #dc2626;
        }
        * { box-sizing: border-box; }
        html, body { margin: 0; height: 100%; background: var(--bg); color: var(--fg); }
        body {
            font-family: "Inter", "Roboto", "Helvetica Neue", "Liberation Sans", "DejaVu Sans", Arial, sans-serif;
            -webkit-font-smoothing: antialiased;
        }
        a { color: inherit; }
        """#
}
