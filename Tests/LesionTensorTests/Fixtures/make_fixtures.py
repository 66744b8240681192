"""Writes the .npy fixtures of LesionTensorTests with NumPy. Run once; the outputs are committed.
The tests know the values: each array is arange-based, so they recompute them independently."""
import numpy as np

np.save("f4_2x3.npy", np.arange(6, dtype=np.float32).reshape(2, 3) / 4)
np.save("f8_2x3x4.npy", (np.arange(24, dtype=np.float64).reshape(2, 3, 4) - 5) / 3)
np.save("i8_labels.npy", np.array([3, 0, 9, 1, 1], dtype=np.int64))
np.save("u1_4x4.npy", np.arange(16, dtype=np.uint8).reshape(4, 4) * 16)
np.save("b1_5.npy", np.array([True, False, True, True, False]))
np.save("f2_6.npy", np.array([0.5, -2.0, 65504.0, 6.1035156e-05, 1e-7, -0.0], dtype=np.float16))
np.save("scalar_f4.npy", np.float32(2.5))
np.save("fortran_f4.npy", np.asfortranarray(np.arange(6, dtype=np.float32).reshape(2, 3)))
np.save("big_endian_f4.npy", np.arange(3, dtype=">f4"))
np.save("c8_3.npy", np.arange(3, dtype=np.complex64))
np.save("empty_f4.npy", np.zeros((0, 3), dtype=np.float32))
# Format 2.0 (4-byte header length).
with open("v2_f4_3.npy", "wb") as f:
    np.lib.format.write_array(f, np.array([1.0, 2.0, 3.0], dtype=np.float32), version=(2, 0))
