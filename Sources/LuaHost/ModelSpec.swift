// Models inside cached values: LesionNN's ModelDescription as Notebook's JSON, and back.
import Foundation
import LesionNN
import Notebook

/// A model's description (LesionNN's ModelDescription) as JSON, and back, for models inside
/// cached values.
enum ModelSpec {
    static func encode(_ m: Sequential) -> JSON? {
        guard let d = m.modelDescription else { return nil }
        let layers: [JSON] = d.nodes.map { n in
            let settings: [(String, JSON)] = n.settings.map { k, v in
                switch v {
                case .int(let x): (k, .object([("int", .number(Double(x)))]))
                case .number(let x): (k, .number(x))
                case .bool(let x): (k, .bool(x))
                }
            }
            return .object([("kind", .string(n.kind)), ("name", .string(n.name)),
                            ("inputs", .array(n.inputs.map { .number(Double($0)) })), ("settings", .object(settings))])
        }
        return .object([("seed", .string(String(d.seed))), ("input", .array((d.inputShape ?? []).map { .number(Double($0)) })),
                        ("training", .bool(d.training)), ("noise", .array([.string(String(d.noiseSeed)), .string(String(d.noiseCounter))])),
                        ("layers", .array(layers))])
    }

    static func decode(_ spec: JSON) -> Sequential? {
        guard let seedText = spec["seed"]?.string, let seed = UInt64(seedText), let ls = spec["layers"]?.array else { return nil }
        var nodes: [ModelDescription.Node] = []
        for l in ls {
            guard let kind = l["kind"]?.string, let name = l["name"]?.string, case .object(let kv)? = l["settings"] else { return nil }
            var settings: [(String, LayerSetting)] = []
            for (k, v) in kv {
                switch v {
                case .bool(let b): settings.append((k, .bool(b)))
                case .number(let d): settings.append((k, .number(d)))
                default:
                    guard let d = v["int"]?.number, let i = Int(exactly: d) else { return nil }
                    settings.append((k, .int(i)))
                }
            }
            let inputs = l["inputs"]?.array?.compactMap { $0.number.flatMap { Int(exactly: $0) } } ?? [nodes.count - 1]
            nodes.append(.init(kind: kind, name: name, inputs: inputs, settings: settings))
        }
        var noise: (UInt64, UInt64) = (0, 0)
        if let n = spec["noise"]?.array, n.count == 2, let a = n[0].string.flatMap({ UInt64($0) }), let b = n[1].string.flatMap({ UInt64($0) }) {
            noise = (a, b)
        }
        var training = false
        if case .bool(let t)? = spec["training"] { training = t }
        let d = ModelDescription(seed: seed, inputShape: spec["input"]?.array?.compactMap { $0.number.flatMap { Int(exactly: $0) } },
                                 training: training, noiseSeed: noise.0, noiseCounter: noise.1, nodes: nodes)
        return try? Sequential(description: d)
    }
}
