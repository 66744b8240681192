import Testing
@testable import Notebook

// Reports are safe to open whatever a script wrote (issue 13): raw HTML in Markdown is text,
// links cannot run code, and the page's policy lists exactly its own scripts.
@Suite struct SafeHTMLTests {
    @Test func rawHTMLOutsideCodeIsText() {
        #expect(HTML.escapeRawHTML("a <b>x</b>") == "a &lt;b>x&lt;/b>")
        // Code spans and fenced blocks keep their text (the renderer escapes them itself).
        #expect(HTML.escapeRawHTML("`a < b` and <i>") == "`a < b` and &lt;i>")
        #expect(HTML.escapeRawHTML("``x ` <y>`` <z>") == "``x ` <y>`` &lt;z>")
        #expect(HTML.escapeRawHTML("```\n<script>\n```\n<script>") == "```\n<script>\n```\n&lt;script>")
        // An unclosed backtick is plain text.
        #expect(HTML.escapeRawHTML("` <a>") == "` &lt;a>")
    }

    @Test func markdownRendersNoTagOfTheAuthor() {
        let html = HTML.markdown("<script>alert(1)</script> <img src=x onerror=alert(2)> *ok*")
        #expect(!html.contains("<script"))
        #expect(!html.contains("<img"))
        #expect(html.contains("<em>ok</em>"))
    }

    @Test func unsafeLinkTargetsAreRemoved() {
        for bad in ["javascript:alert(1)", " JavaScript:x", "java&#115;cript:x", "java&#x73;cript:x", "vbscript:x",
                    "data:text/html,<script>", "data:image/svg+xml,<svg onload=x>", "java\tscript:x", "file:///etc/passwd"] {
            #expect(!HTML.isSafeURL(HTML.decodeEntities(bad)), "\(bad)")
        }
        for good in ["https://example.org/a:b", "http://x", "mailto:a@b", "#unit-3", "runs/x/report.html", "a/b:c",
                     "data:image/png;base64,AAAA"] {
            #expect(HTML.isSafeURL(good), "\(good)")
        }
        #expect(HTML.removeUnsafeURLs("<a href=\"javascript:x\">a</a><a href=\"#u\">b</a>") == "<a href=\"#\">a</a><a href=\"#u\">b</a>")
    }

    @Test func policyHashesExactlyThePagesScripts() {
        // SHA-256 of "alert(1)", base64 (from Python: hashlib.sha256(b"alert(1)").digest()).
        let page = HTML.withPolicy("<html><head><meta charset=\"utf-8\">\n</head><body><script>alert(1)</script></body></html>")
        #expect(page.contains("script-src 'sha256-bhHHL3z2vDgxUt0W3dWQOrprscmda2Y5pLsLg4GF+pI='"))
        #expect(page.contains("default-src 'none'"))
        let none = HTML.withPolicy("<html><head><meta charset=\"utf-8\">\n</head><body></body></html>")
        #expect(none.contains("script-src 'none'"))
    }

    @Test func linesAsLuaCountsThem() {
        #expect(CellScript.lines(of: "a\rb\r\nc\n\rd\ne") == ["a", "b", "c", "d", "e"])
        #expect(CellScript.lines(of: "a\n\nb") == ["a", "", "b"])
        let s = CellScript(text: "-- %% one\rprint(1)\r-- %% two\rprint(2)\r")
        #expect(s.cells.count == 2)
        #expect(s.cells[1].markerLine == 3)
    }
}
