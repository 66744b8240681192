import Testing
@testable import Notebook

@Suite struct CellTests {
    @Test func fileWithoutMarkersIsOneCodeCell() {
        let s = CellScript(text: "local x = 1\nprint(x)\n")
        #expect(s.cells.count == 1)
        #expect(s.cells[0].kind == .code)
        #expect(s.cells[0].markerLine == nil)
        #expect(s.cells[0].source == "local x = 1\nprint(x)")
    }

    @Test func markersTitlesAndMarkdown() {
        let text = """
            -- %% [markdown]
            -- # Title
            --
            -- Some *text*.

            -- %% Train the model
            local m = 1

            -- %%
            print(m)
            """
        let s = CellScript(text: text)
        #expect(s.cells.map(\.kind) == [.markdown, .code, .code])
        #expect(s.cells[0].source == "# Title\n\nSome *text*.")
        #expect(s.cells[1].title == "Train the model")
        #expect(s.cells[1].markerLine == 6)
        #expect(s.cells[1].firstLine == 7)
        #expect(s.cells[1].source == "local m = 1")
        #expect(s.cells[2].title == nil)
        #expect(s.cells[2].source == "print(m)")
    }

    @Test func titleBeforeMarkdownTagAndMdShortTag() {
        let s = CellScript(text: "-- %% Notes [markdown]\n-- hi\n-- %% [md]\n-- there")
        #expect(s.cells.map(\.kind) == [.markdown, .markdown])
        #expect(s.cells[0].title == "Notes")
        #expect(s.cells[1].source == "there")
    }

    @Test func markersInsideStringsAndLongCommentsDoNotCount() {
        let text = """
            local a = [[
            -- %% not a cell
            ]]
            --[==[
            -- %% not a cell either
            ]==]
            local b = "x\\
            -- %% still inside the string"
            -- %% real
            print(a, b)
            """
        let s = CellScript(text: text)
        #expect(s.cells.count == 2)
        #expect(s.cells[1].title == "real")
        #expect(s.cells[1].markerLine == 9)
    }

    @Test func markersInsideBlocksAreComments() {
        // A marker inside a function, loop, if or repeat block would cut the block in two: it is
        // an ordinary comment there. Keywords inside strings and comments, and names that merely
        // contain one (endpoint, do_it), do not move the depth.
        let text = """
            local function f(x)
              -- %% not a cell (function)
              if x then
                -- %% not a cell (if)
              elseif x == 2 then return 2 end
              return x
            end
            -- %% one
            for i = 1, 2 do
              -- %% not a cell (for)
            end
            while false do end local s = "end end" -- end
            repeat
              -- %% not a cell (repeat)
            until true
            local endpoint, do_it = 1, 2
            local g = function() return 1 end
            -- %% two
            print(f(1), s, endpoint, do_it, g())
            """
        let s = CellScript(text: text)
        #expect(s.cells.map(\.title) == [nil, "one", "two"])
        #expect(s.cells[1].markerLine == 8)
    }

    @Test func longStringClosedOnTheSameLineAndCommentedBrackets() {
        let text = "local a = [[x]] -- [[ not a long comment\n-- %% two\nlocal s = '[[' -- %% inline\n-- %% three\n"
        let s = CellScript(text: text)
        #expect(s.cells.map(\.title) == [nil, "two", "three"])
    }

    @Test func notMarkers() {
        // `--%%x` and `---- %%`, and `%%` not at the line's start, are not markers.
        let s = CellScript(text: "--%%x\n---- %%\nx = 1 -- %%\n")
        #expect(s.cells.count == 1)
        #expect(CellScript.isMarker(Array("  --%%".utf8)))
        #expect(CellScript.isMarker(Array("-- %% [markdown]".utf8)))
    }

    @Test func crlfAndNoTrailingNewline() {
        let s = CellScript(text: "-- %% a\r\nx = 1\r\n-- %% [markdown]\r\n-- *b*\r\n-- %% c\r\ny = 2")
        #expect(s.cells.map(\.title) == ["a", nil, "c"])
        #expect(s.cells[0].source == "x = 1")
        #expect(s.cells[1].source == "*b*")
        #expect(s.cells[2].source == "y = 2")
        #expect(!s.chunk(hook: "h").contains("\r"))
    }

    @Test func emptyCellsAndEmptyFile() {
        let s = CellScript(text: "-- %% one\n-- %% two\n\n-- %% three\n")
        #expect(s.cells.count == 3)
        #expect(s.cells.allSatisfy { $0.isEmpty })
        #expect(CellScript(text: "").cells.count == 1)
        #expect(CellScript(text: "\n\n-- %% only\nx()").cells.count == 1)
    }

    @Test func chunkKeepsLineNumbers() {
        let text = "#!/usr/bin/env lesion\n-- %% a\nx = 1\n-- %% [markdown]\n-- hi\n-- %% b\nerror('here')"
        let s = CellScript(text: text)
        let chunk = s.chunk(hook: "H", prefix: "local H = f; ")
        let lines = chunk.components(separatedBy: "\n")
        #expect(lines.count == 7)
        #expect(lines[0] == "local H = f; ")
        #expect(lines[1] == ";H(1)")     // cell 0 is the shebang line's text before the first marker
        #expect(lines[3] == ";H(2)")
        #expect(lines[5] == ";H(3)")
        #expect(lines[6] == "error('here')")
    }

    @Test func markdownAsLongComment() {
        let s = CellScript(text: "-- %% [markdown]\n--[[\n# Heading\n\ntext\n]]\n")
        #expect(s.cells[0].source == "# Heading\n\ntext")
    }
}
