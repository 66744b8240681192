// Progress of long passes over a data set. Dataset.forEachBatch reports the samples done after
// each batch to the sink a caller installs (the Lua host draws a bar or writes lines); nil when
// nobody listens. Set and read on the thread that runs the pass.
public enum Progress {
    nonisolated(unsafe) public static var sink: ((_ done: Int, _ total: Int) -> Void)?
}
