// The tensor module's random numbers: tensor.randn, tensor.rand, tensor.random_rotation and
// tensor.manual_seed. A call with {seed = s} draws stream 0 of s; a call without one draws the
// next stream of the state's default seed, so a script is reproducible as a whole.
import CLua
import LuaShim
import LesionTensor

/// Random calls without a seed draw successive streams of the state's default seed
/// (tensor.manual_seed; the notebook records it).
final class RandomDefaults: HostState {
    var seed: UInt64 = 0
    var calls: UInt64 = 0

    /// The next unseeded call's number.
    func next() -> UInt64 {
        calls += 1
        return calls
    }
}

extension TensorBinding {
    /// The stream for a random call: `{seed = s}` gives stream 0 of s; no seed gives the next
    /// stream of the host's default seed (tensor.manual_seed), so a script is reproducible.
    static func stream(_ lua: Lua, _ opts: Options) throws -> RandomStream {
        if let s = try opts.seed() { return RandomStream(seed: s) }
        let random = LuaHost.from(lua.L).state(RandomDefaults.self)
        return RandomStream(seed: random.seed, stream: random.next())
    }

    static let randn: LuaFunction = { L in
        Lua.bind(L, "tensor.randn") { lua in
            let (s, next) = try lua.shape(1)
            let opts = try Options(lua, next, allowed: ["seed", "mean", "std"])
            let mean = Float(try opts.number("mean") ?? 0), sd = Float(try opts.number("std") ?? 1)
            let t = try Tensor(uninitialized: s)
            try stream(lua, opts).fillNormal(t.data, count: t.count, mean: mean, std: sd)
            lua.push(tensor: t)
            return 1
        }
    }

    static let rand: LuaFunction = { L in
        Lua.bind(L, "tensor.rand") { lua in
            let (s, next) = try lua.shape(1)
            let opts = try Options(lua, next, allowed: ["seed", "low", "high"])
            let lo = Float(try opts.number("low") ?? 0), hi = Float(try opts.number("high") ?? 1)
            guard lo < hi else { throw LuaArgError(next, "option 'low' (\(lo)) must be below 'high' (\(hi))") }
            let t = try Tensor(uninitialized: s)
            try stream(lua, opts).fillUniform(t.data, count: t.count, lo: lo, hi: hi)
            lua.push(tensor: t)
            return 1
        }
    }

    static let manualSeed: LuaFunction = { L in
        Lua.bind(L, "tensor.manual_seed") { lua in
            let s = try lua.integer(1)
            guard s >= 0 else { throw LuaArgError(1, "seed must be a non-negative integer, got \(s)") }
            let random = LuaHost.from(lua.L).state(RandomDefaults.self)
            random.seed = UInt64(s)
            random.calls = 0
            return 0
        }
    }

    static let randomRotation: LuaFunction = { L in
        Lua.bind(L, "tensor.random_rotation") { lua in
            let n = try lua.integer(1)
            guard n >= 1 && n <= 16384 else { throw LuaArgError(1, "size must be in 1..16384, got \(n)") }
            let opts = try Options(lua, 2, allowed: ["seed"])
            let seed: UInt64
            if let s = try opts.seed() {
                seed = s
            } else {
                let random = LuaHost.from(lua.L).state(RandomDefaults.self)
                seed = random.seed &+ random.next() &* 0x9E37_79B9_7F4A_7C15
            }
            lua.push(tensor: try Tensor.randomRotation(n, seed: seed))
            return 1
        }
    }
}
