// A script's parameters: declared with defaults (params{...}), overridden by `--set key=value`
// and typed by the default's type.

public enum ParameterType: String, Sendable {
    case integer, number, boolean, string

    /// The value an override text stands for, or nil when it does not parse as this type.
    public func parse(_ text: String) -> JSON? {
        switch self {
        case .integer: return Int(text).map { .number(Double($0)) }
        case .number: return Double(text).flatMap { $0.isFinite ? .number($0) : nil }
        case .boolean:
            switch text.lowercased() {
            case "true", "1", "yes", "on": return .bool(true)
            case "false", "0", "no", "off": return .bool(false)
            default: return nil
            }
        case .string: return .string(text)
        }
    }
}
