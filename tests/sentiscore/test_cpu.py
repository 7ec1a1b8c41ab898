"""The CPU's int8 instruction sets, as the manifest and the summary record them."""

from sentiscore.cpu import INT8_FLAGS, differences, int8_features

XEON = """processor\t: 0
model name\t: Intel(R) Xeon(R) Platinum 8480C
flags\t\t: fpu sse2 avx2 avx512f avx512bw avx512vl avx512_vnni amx_tile amx_int8 avx512_bf16
processor\t: 1
model name\t: Intel(R) Xeon(R) Platinum 8480C
flags\t\t: fpu sse2 avx2 avx512f avx512bw avx512vl avx512_vnni amx_tile amx_int8 avx512_bf16
"""
EPYC = "processor\t: 0\nmodel name\t: AMD EPYC 7B13\nflags\t\t: fpu sse2 avx2 fma\n"
GRAVITON = "processor\t: 0\nFeatures\t: fp asimd evtstrm aes asimddp i8mm\nCPU implementer\t: 0x41\n"


def test_flags_are_read_from_cpuinfo_in_a_fixed_order():
    xeon = int8_features(XEON)
    assert xeon["model"] == "Intel(R) Xeon(R) Platinum 8480C"
    assert xeon["int8_flags"] == ["avx2", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx512_bf16",
                                  "amx_tile", "amx_int8"]
    assert int8_features(EPYC)["int8_flags"] == ["avx2"]
    assert int8_features(GRAVITON)["int8_flags"] == ["asimd", "asimddp", "i8mm"]  # Arm names them Features
    assert int8_features("")["int8_flags"] == []


def test_this_machine_has_a_known_subset():
    assert set(int8_features()["int8_flags"]) <= set(INT8_FLAGS)


def test_differences_name_what_each_side_lacks():
    assert differences(int8_features(XEON), int8_features(XEON)) == []
    assert differences(int8_features(EPYC), int8_features(XEON)) == [
        "+avx512f", "+avx512bw", "+avx512vl", "+avx512_vnni", "+avx512_bf16", "+amx_tile", "+amx_int8"]
    assert differences(int8_features(XEON), int8_features(EPYC))[0] == "-avx512f"
