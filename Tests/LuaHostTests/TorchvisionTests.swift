import CLua
import LesionNN
import LesionTensor
import LuaShim
import Testing
@testable import LuaHost

/// torchvision's builders, rebuilt in lua/lesion/models.lua: with every weight set by a formula,
/// the logits and the pooled features equal those torchvision computed with the same weights
/// (recorded by scripts/reference/torchvision_logits.py with PyTorch 2.13 and torchvision 0.28).
@Suite(.serialized) struct TorchvisionTests {
    /// name: (logits of 2 images x 10 classes, per image: avgpool's first 6 values, sum, sum of squares)
    static let reference: [String: ([Double], [Double])] = [
        "resnet18": ([-0.5088291, 0.09074805, 0.1496486, -0.0913482, 0.3165984, -0.3046567, 0.2941833, -0.4167131, 0.1900889, 0.05842002, -0.5803922, 0.1091219, 0.1179634, -0.04672416, 0.3252003, -0.3133961, 0.2983148, -0.4603904, 0.2120218, 0.03297367],
             [0.0231583007, 0.0087630637, 0.049551513, 0.106977716, 0.211074784, 0.0147916228, 46.1691338, 8.30793007, 0.0287247561, 0.0081035085, 0.0325019807, 0.125041068, 0.23645474, 0.00768252322, 52.1138022, 11.1914274]),
        "resnet50": ([-5.698846, 2.763491, 2.190485, -1.723754, -2.700454, 3.371876, 1.581273, -3.260611, 0.09885596, 3.366084, -4.935438, 2.478471, 1.816019, -1.498008, -2.28266, 3.001608, 1.30739, -2.875737, 0.2065719, 2.944336],
             [0, 0.677762806, 1.75697112, 1.74689746, 1.87240958, 0.131360918, 1888.23876, 3075.68609, 0, 0.493018687, 1.73383033, 1.59219754, 1.47092509, 0.0276825875, 1630.9152, 2419.0843]),
        "alexnet": ([0.1204236, -0.2098835, 0.06602661, -0.0226426, -0.1359838, -0.1072672, -0.1378513, 0.08584548, -0.09986039, 0.3375898, 0.119655, -0.2105909, 0.0662217, -0.02331524, -0.135321, -0.1076486, -0.1392232, 0.0855444, -0.09945271, 0.3382281],
             [0, 0, 0, 0, 0, 0, 421.096651, 37.8764081, 0, 0, 0, 0, 0, 0, 412.460024, 36.6119661]),
        "vgg11_bn": ([0.1139813, -0.2111503, 0.04568288, -0.01868686, -0.1137997, -0.09163917, -0.1232434, 0.08278234, -0.09241395, 0.3308417, 0.1140009, -0.2108925, 0.04596813, -0.01856193, -0.1137992, -0.09172784, -0.1232925, 0.08264088, -0.09228193, 0.330783],
             [0, 0, 0, 0, 0, 0, 944.545566, 76.8337909, 0, 0, 0, 0, 0, 0, 939.381833, 76.2306251])
    ]

    /// u(j) = ((j * 2654435761 + (t + 1) * 97531) mod 2^32) / 2^32 - 0.5, as the script computes it.
    static func formula(_ j: Int, _ t: Int) -> Double {
        let h = (UInt64(j) &* 2_654_435_761 &+ UInt64(t + 1) &* 97_531) % (1 << 32)
        return Double(h) / 4_294_967_296.0 - 0.5
    }

    static func fill(_ m: Sequential) {
        let sd = m.stateDict().sorted { $0.0 < $1.0 }
        for (t, (name, x)) in sd.enumerated() {
            let leaf = name.split(separator: ".").last!
            for j in 0..<x.count {
                let u = formula(j, t)
                let v: Double
                if leaf == "weight" && x.rank > 1 { v = u * (24.0 / Double(x.count / x.shape[0])).squareRoot() }
                else if leaf == "weight" { v = 1 + 0.2 * u }
                else if leaf == "running_var" { v = 1 + u }
                else { v = 0.2 * u }
                x.data[j] = Float(v)
            }
        }
    }

    @Test(arguments: [("resnet18", 64), ("resnet50", 64), ("alexnet", 64), ("vgg11_bn", 32)])
    func logitsEqualTorchvision(_ name: String, _ side: Int) throws {
        let host = try makeHost()
        // AlexNet and VGG with 64 hidden units in the classifier (the script narrows torchvision's).
        let builder = ["resnet18": "models.resnet18{num_classes = 10, input = false}",
                       "resnet50": "models.resnet50{num_classes = 10, input = false}",
                       "alexnet": "models.alexnet{num_classes = 10, input = false, hidden = 64}",
                       "vgg11_bn": "models.vgg11{bn = true, num_classes = 10, input = false, hidden = 64}"][name]!
        _ = try host.run(code: "__reference_model = " + builder)
        lua_getglobal(host.L, "__reference_model")
        let m = try #require(Lua(host.L).test(-1, Sequential.self))
        lesion_pop(host.L, 1)
        TorchvisionTests.fill(m)
        let x = try Tensor(zeros: [2, 3, side, side])
        for j in 0..<x.count { x.data[j] = Float(TorchvisionTests.formula(j, -1)) }
        let (logits, pooledStats) = try #require(TorchvisionTests.reference[name])
        let y = try m.forward(x)
        let largest = logits.map(abs).max()!
        #expect(y.count == logits.count)
        for i in 0..<logits.count {
            #expect(abs(Double(y.data[i]) - logits[i]) <= 1e-4 * largest, "\(name) logit \(i): \(y.data[i]) against \(logits[i])")
        }
        let pooled = try Layout.toNCHW(try m.forwardInternal(x, through: try #require(m.index(of: "avgpool")), training: false))
        let per = pooled.count / 2
        for b in 0..<2 {
            let row = Array(UnsafeBufferPointer(start: pooled.data + b * per, count: per)).map(Double.init)
            let got = Array(row.prefix(6)) + [row.reduce(0, +), row.reduce(0) { $0 + $1 * $1 }]
            let want = Array(pooledStats[(b * 8)..<(b * 8 + 8)])
            for (g, w) in zip(got, want) {
                #expect(abs(g - w) <= 1e-4 * max(1, abs(w)), "\(name) image \(b) avgpool: \(got) against \(want)")
            }
        }
    }
}
