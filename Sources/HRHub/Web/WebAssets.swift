import Foundation

/// The web pages the hub serves.
///
/// Each page is one HTML document with its CSS inline, no CDN, no build step. The picker's short script is
/// inline too; the class screen's script is a file of its own, `class.js` (a SwiftPM resource of this target),
/// which the page loads from `/assets/class.js`, so it can be read and checked as JavaScript. `swift build`
/// puts it in `HRHub_HRHub.resources/` next to the binary; the hub reads it from there once, at start, and
/// refuses to start without it (`Bundle.module` would trap on the first page view instead). A hub copied to
/// another machine takes that directory with it.
///
/// The pages take everything they need from their own URL (the class id from `/classes/{id}`), so they are
/// static bytes, assembled once.
enum WebAssets {
    /// `GET /`: the live classes, each a link to its class screen.
    static let pickerPage: [UInt8] = Array(
        document(
            title: "HRHub classes", style: sharedStyle + pickerStyle, body: pickerBody,
            script: "<script>\n\(pickerScript)\n</script>"
        ).utf8)

    /// `GET /classes/{classId}`: the class screen.
    static let classPage: [UInt8] = Array(
        document(
            title: "HRHub class", style: sharedStyle + classStyle, body: classBody,
            script: "<script src=\"\(classScriptPath)\"></script>"
        ).utf8)

    /// Where the class screen's script is served.
    static let classScriptPath = "/assets/class.js"

    /// `GET /assets/class.js`: the class screen's script, read from the resource bundle, or why it cannot be.
    static let classScript: Result<[UInt8], WebAssetError> = resource("class.js")

    /// The resource directory SwiftPM builds for this target, named `<package>_<target>.resources`.
    static let bundleName = "HRHub_HRHub.resources"

    /// The bytes of a resource file, from the bundle beside the running executable (symlinks resolved, so a
    /// link in /usr/local/bin to the built binary works).
    static func resource(_ name: String) -> Result<[UInt8], WebAssetError> {
        let executable = (Bundle.main.executableURL ?? URL(filePath: "/proc/self/exe")).resolvingSymlinksInPath()
        let file = executable.deletingLastPathComponent().appending(path: bundleName).appending(path: name)
        guard let data = FileManager.default.contents(atPath: file.path) else {
            return .failure(WebAssetError(path: file.path))
        }
        return .success(Array(data))
    }

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
        \(script)
        </body>
        </html>

        """
    }

    /// Colours and type shared by both pages: dark background, zone colours readable across a room.
    ///
    /// The five zone colours (grey, blue, green, orange, red) were picked to stay apart for colour-blind
    /// viewers. Smallest CIEDE2000 ΔE between any two of them, in sRGB, with protanopia, deuteranopia and
    /// tritanopia simulated (Machado et al. 2009, full severity): 24.4 normal, 18.0 protan (green–orange),
    /// 18.0 deutan (green–orange), 18.5 tritan (grey–blue); the colours before had 7.9 (deutan, green–red),
    /// where about 10 is needed to tell two tiles apart at a glance. Each tile's ink (`--ink`: white on blue
    /// and red, `--bg` on grey, green and orange) has a WCAG contrast of at least 5.1:1 with it (AA asks 4.5).
    /// tests/e2e/test_zone_colours.py recomputes these from the served page.
    static let sharedStyle = #"""
        :root {
            color-scheme: dark;
            --bg: #0b0f14;
            --panel: #111827;
            --fg: #f8fafc;
            --muted: #94a3b8;
            --z0: #334155;
            --z1: #8b919a;
            --z2: #0a64e0;
            --z3: #2ecc8a;
            --z4: #f57c00;
            --z5: #c0101f;
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

/// A resource file of the web pages that is not where `swift build` puts it.
struct WebAssetError: Error, CustomStringConvertible {
    /// Where it was looked for.
    let path: String

    var description: String {
        "cannot read \(path): the class screen's script, which `swift build` puts beside the hrhub binary "
            + "(copy the \(WebAssets.bundleName) directory along with the binary)"
    }
}
