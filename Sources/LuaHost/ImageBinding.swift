// Images from Lua: data.images (a folder of class subfolders), data.image (one file),
// data.save_image (a tensor to PNG), data.imagenet_classes.
import CLua
import Foundation
import LesionNN
import LesionTensor

enum ImageBinding {
    static let functions: [(String, LuaFunction)] = [
        ("images", images), ("image", image), ("save_image", saveImage), ("imagenet_classes", imagenetClasses),
    ]

    /// Option `transform`: "imagenet", "none", or {resize = n | {h, w}, crop = n | {h, w}, mean =, std =,
    /// channels = 1 | 3}; absent: `fallback`.
    static func transform(_ lua: Lua, _ o: Options, fallback: ImageTransform) throws -> ImageTransform {
        guard o.present else { return fallback }
        let t = lua.rawField(o.arg, "transform")
        defer { lua.pop() }
        switch t {
        case LUA_TNIL: return fallback
        case LUA_TSTRING:
            switch lua.string(at: -1) ?? "" {
            case "imagenet": return .imagenet
            case "none": return .plain
            case let s: throw LuaArgError(o.arg, "option 'transform': unknown transform '\(s)'; use \"imagenet\", \"none\" or a table {resize =, crop =, mean =, std =, channels =}")
            }
        case LUA_TTABLE:
            let top = lua.top
            let to = try Options(lua, top, allowed: ["resize", "crop", "mean", "std", "channels"])
            /// A size: one number (`one`) or {h, w}.
            func size(_ key: String) throws -> (h: Int, w: Int, one: Bool)? {
                let k = lua.rawField(top, key)
                defer { lua.pop() }
                switch k {
                case LUA_TNIL: return nil
                case LUA_TNUMBER:
                    let n = try lua.integer(lua.top)
                    return (n, n, true)
                default:
                    let v = try lua.numbers(lua.top, arg: o.arg, field: "transform." + key)
                    guard v.count == 2, v.allSatisfy({ $0 == $0.rounded() }) else {
                        throw LuaArgError(o.arg, "option 'transform': '\(key)' must be a size or {h, w}")
                    }
                    return (Int(v[0]), Int(v[1]), false)
                }
            }
            func floats(_ key: String) throws -> [Float]? {
                guard lua.rawField(top, key) != LUA_TNIL else { lua.pop(); return nil }
                defer { lua.pop() }
                return try lua.numbers(lua.top, arg: o.arg, field: "transform." + key).map(Float.init)
            }
            // A resize given as one number sets the shorter side, as torchvision's Resize(n).
            let resize = try size("resize").map { r -> ImageTransform.Resize in r.one ? .shorter(r.h) : .exact(r.h, r.w) }
            let crop = try size("crop").map { ($0.h, $0.w) }
            let (mean, std, channels) = (try floats("mean"), try floats("std"), try to.integer("channels") ?? 3)
            do throws(TensorError) {
                return try ImageTransform(resize: resize, crop: crop, mean: mean, std: std, channels: channels)
            } catch {
                throw LuaArgError(o.arg, "option 'transform': \(error.message)")
            }
        default:
            throw LuaArgError(o.arg, "option 'transform' must be a string or a table")
        }
    }

    /// data.images(dir, {transform =, classes =, skip_bad =}): the data set, and the list of
    /// files left out (with skip_bad).
    static let images: LuaFunction = { L in
        Lua.bind(L, "data.images") { lua in
            let dir = try lua.path(1, .read, for: "data.images")
            let o = try Options(lua, 2, allowed: ["transform", "classes", "skip_bad"])
            let tf = try transform(lua, o, fallback: .imagenet)
            var folders: [String]?, names: [String]?
            if o.present {
                let t = lua.rawField(o.arg, "classes")
                defer { lua.pop() }
                if t == LUA_TSTRING {
                    guard lua.string(at: -1) == "imagenet" else { throw LuaArgError(2, "option 'classes': use \"imagenet\" or a list of folder names") }
                    names = ImageNet.classes
                } else if t != LUA_TNIL {
                    folders = try PlotBinding.strings(lua, lua.top, "option 'classes'")
                }
            }
            let (ds, skipped) = try ImageFolder.dataset(root: dir, transform: tf, classes: folders, classNames: names,
                                                        skipBad: try o.boolean("skip_bad") ?? false)
            lua.push(ds)
            lua.newTable(array: Int32(skipped.count))
            for (i, s) in skipped.enumerated() { lua.push(s); lua.setIndex(-2, i + 1) }
            return 2
        }
    }

    /// data.image(path, {transform = "none"}): one image as a tensor {C, H, W}.
    static let image: LuaFunction = { L in
        Lua.bind(L, "data.image") { lua in
            let path = try lua.path(1, .read, for: "data.image")
            let o = try Options(lua, 2, allowed: ["transform"])
            let tf = try transform(lua, o, fallback: .plain)
            let img = try ImageFile.read(path: path)
            let (h, w) = tf.outputSize(h: img.height, w: img.width)
            let t = try Tensor(uninitialized: [tf.channels, h, w])
            do throws(TensorError) { try tf.apply(img, into: t.data) } catch { throw TensorError(error.kind, "'\(path)': \(error.message)") }
            lua.push(tensor: t)
            return 1
        }
    }

    /// data.save_image(t, path): t {C, H, W} (C = 1, 3 or 4) or {H, W}, values in [0, 1], as PNG.
    static let saveImage: LuaFunction = { L in
        Lua.bind(L, "data.save_image") { lua in
            let t = try lua.tensor(1)
            let path = try lua.path(2, .write, for: "data.save_image")
            let s = t.shape
            guard (s.count == 3 && [1, 3, 4].contains(s[0])) || s.count == 2 else {
                throw LuaArgError(1, "image tensor {C,H,W} with 1, 3 or 4 channels, or {H,W}, expected, got \(Tensor.describe(s))")
            }
            let (c, h, w) = s.count == 3 ? (s[0], s[1], s[2]) : (1, s[0], s[1])
            var px = [UInt8](repeating: 0, count: c * h * w)
            for ch in 0..<c { for p in 0..<(h * w) {
                let v = t.data[ch * h * w + p]
                px[p * c + ch] = v != v ? 0 : UInt8((min(max(v, 0), 1) * 255).rounded())
            } }
            try ImageFile.writePNG(Image8(width: w, height: h, channels: c, pixels: px), path: path)
            return 0
        }
    }

    static let imagenetClasses: LuaFunction = { L in
        Lua.bind(L, "data.imagenet_classes") { lua in
            lua.newTable(array: 1000)
            for (i, n) in ImageNet.classes.enumerated() { lua.push(n); lua.setIndex(-2, i + 1) }
            return 1
        }
    }
}
