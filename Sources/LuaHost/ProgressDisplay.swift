// Progress on stderr: training's bar, and the line of long passes over data.
import Foundation
import LesionNN

/// Progress of a call's passes over data on stderr, once a call has run for a second: a line
/// redrawn in place on a terminal (samples, rate, time left), otherwise a line every 5 s.
final class PassProgress {
    let label: String
    let tty = isatty(2) != 0
    let start = monotonicSeconds()
    var lastDraw = 0.0
    var drawn = false
    var last: (Int, Int) = (0, 0)

    init(label: String) { self.label = label }

    func update(_ done: Int, _ total: Int) {
        last = (done, total)
        let t = monotonicSeconds() - start
        guard t >= 1, t - lastDraw >= (tty ? 0.1 : 5) else { return }
        lastDraw = t
        draw(done, total, t, final: false)
    }

    func draw(_ done: Int, _ total: Int, _ t: Double, final: Bool) {
        let rate = Double(done) / max(t, 1e-9)
        let left = rate > 0 ? Double(total - done) / rate : 0
        let text = String(format: "%@: %d/%d images, %.0f img/s, ", label, done, total, rate)
            + (final ? String(format: "%.1fs", t) : "ETA " + ProgressBar.clock(left))
        let line = tty ? "\r" + text + (final ? "\n" : "   ") : text + "\n"
        FileHandle.standardError.write(Data(line.utf8))
        drawn = true
    }

    /// A last line when anything was drawn (a pass that ends within a second says nothing).
    func finish() {
        guard drawn else { return }
        draw(last.0, last.1, monotonicSeconds() - start, final: true)
    }
}

/// Training progress on stderr: a bar redrawn in place on a terminal, one line per epoch otherwise.
final class ProgressBar {
    let enabled: Bool
    let tty = isatty(2) != 0
    var lastDraw = 0.0

    init(enabled: Bool) { self.enabled = enabled }

    func update(_ p: FitProgress) {
        guard enabled else { return }
        let now = p.elapsed
        if tty {
            if !p.epochDone && now - lastDraw < 0.1 && p.batch > 1 { return }
            lastDraw = now
            let width = 24
            let filled = Int(Double(width) * Double(p.batch) / Double(p.batches))
            let bar = String(repeating: "=", count: filled) + (filled < width ? ">" : "") + String(repeating: " ", count: max(0, width - filled - 1))
            let eta = p.imagesPerSecond > 0 ? Double(p.batches - p.batch) * (p.elapsed / Double(p.batch)) : 0
            var line = String(format: "\repoch %d/%d [%@] %d/%d loss %.4f acc %.1f%% %.0f img/s ",
                              p.epoch, p.epochs, bar, p.batch, p.batches, p.loss, 100 * p.accuracy, p.imagesPerSecond)
            line += p.epochDone ? String(format: "%.1fs\n", p.elapsed) : "ETA " + ProgressBar.clock(eta) + "   "
            FileHandle.standardError.write(Data(line.utf8))
        } else if p.epochDone {
            let line = String(format: "epoch %d/%d: loss %.4f acc %.1f%% lr %.4g %.0f img/s %.1fs\n",
                              p.epoch, p.epochs, p.loss, 100 * p.accuracy, p.lr, p.imagesPerSecond, p.elapsed)
            FileHandle.standardError.write(Data(line.utf8))
        }
    }

    static func clock(_ s: Double) -> String {
        let t = Int(s.rounded())
        return String(format: "%d:%02d", t / 60, t % 60)
    }
}
