/// An error of the numeric core. `kind` lets a binding choose its wording; `message` says
/// what was expected and what was found, without naming the caller.
public struct TensorError: Error, CustomStringConvertible, Equatable {
    public enum Kind: Sendable, Equatable {
        case shape      // shapes that do not fit
        case index      // an index or dimension out of range
        case value      // a bad scalar argument (negative size, NaN where a number is needed, ...)
        case memory     // an allocation failed
        case io         // a file could not be opened, read or written
        case format     // a file's contents are not what its format says
        case numeric    // a numerical routine failed (LAPACK info != 0, ...)
        case limit      // the run's --max-memory or --timeout was reached (not about an argument)
    }
    public let kind: Kind
    public let message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}

/// Runs a body whose errors are TensorErrors but pass through an untyped `rethrows` API
/// (withUnsafeBytes and the like), and gives them their type back.
@inline(__always)
public func typed<T>(_ body: () throws -> T) throws(TensorError) -> T {
    do {
        return try body()
    } catch let e as TensorError {
        throw e
    } catch {
        throw TensorError(.value, "\(error)")
    }
}
