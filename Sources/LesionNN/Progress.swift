// Progress of long passes over a data set. Dataset.forEachBatch reports the samples done after
// each batch to the sink that the thread running the pass installed (the Lua host draws a bar or
// writes lines); nil when nobody listens. The sink is the thread's own, so hosts running on
// several threads at once (tests, embedders) never report into each other's progress.
#if canImport(Glibc)
import Glibc
#endif

public enum Progress {
    final class Box {
        let report: (_ done: Int, _ total: Int) -> Void
        init(_ report: @escaping (_ done: Int, _ total: Int) -> Void) { self.report = report }
    }

    static let key: pthread_key_t = {
        var k = pthread_key_t()
        pthread_key_create(&k) { p in Unmanaged<Box>.fromOpaque(p!).release() }
        return k
    }()

    /// This thread's sink.
    public static var sink: ((_ done: Int, _ total: Int) -> Void)? {
        get { pthread_getspecific(key).map { Unmanaged<Box>.fromOpaque($0).takeUnretainedValue().report } }
        set {
            let old = pthread_getspecific(key)
            pthread_setspecific(key, newValue.map { UnsafeRawPointer(Unmanaged.passRetained(Box($0)).toOpaque()) })
            if let old { Unmanaged<Box>.fromOpaque(old).release() }
        }
    }
}
