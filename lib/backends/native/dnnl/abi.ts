/**
 * Every oneDNN 2.6.3 constant, struct size and field offset this binding uses, in one place.
 *
 * The values were read from the installed headers (`/usr/include/oneapi/dnnl/dnnl_types.h`, which
 * `/usr/include/dnnl_types.h` includes), never guessed. Keys are the C identifiers so that a grep
 * of the header finds each one; `tests/backends/dnnl_abi_test.ts` parses the header and checks
 * every entry of {@link ENUM} and {@link ARG}, and compiles a C program (when `cc` exists) to check
 * {@link SIZEOF} and {@link OFFSET}.
 *
 * Only oneDNN 2.x has these op-descriptor structs (3.x removed them), so `openDnnl` refuses any
 * library whose major version is not 2 or whose minor version is below 6.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ENUM, SIZEOF } from "./abi.ts";
 * const md = new Uint8Array(SIZEOF.dnnl_memory_desc_t);
 * assert.equal(ENUM.dnnl_nhwc, 20);
 * assert.equal(md.length, 696);
 * ```
 * @module
 */

/** The oneDNN release these values were read from. */
export const ABI_VERSION = { major: 2, minor: 6, patch: 3 } as const;

/**
 * Enum members of oneDNN 2.6.3, keyed by their C names (from `dnnl_types.h`).
 *
 * Implicitly numbered members (most format tags, queries) were counted from the last explicit value
 * in the header; the header test recomputes them the same way.
 *
 * @example
 * ```ts
 * import { ENUM } from "./abi.ts";
 * const tag = ENUM.dnnl_nhwc; // 20: dnnl_acdb
 * ```
 */
export const ENUM = {
  // dnnl_status_t
  dnnl_success: 0,
  dnnl_out_of_memory: 1,
  dnnl_invalid_arguments: 2,
  dnnl_unimplemented: 3,
  dnnl_iterator_ends: 4,
  dnnl_runtime_error: 5,
  dnnl_not_required: 6,
  // dnnl_data_type_t
  dnnl_data_type_undef: 0,
  dnnl_f32: 3,
  dnnl_s32: 4,
  dnnl_u8: 6,
  // dnnl_format_kind_t
  dnnl_format_kind_undef: 0,
  dnnl_format_kind_any: 1,
  dnnl_blocked: 2,
  // dnnl_format_tag_t: the CNN names are aliases of the letter tags (in parentheses)
  dnnl_format_tag_undef: 0,
  dnnl_format_tag_any: 1,
  dnnl_a: 2,
  dnnl_ab: 3,
  dnnl_abcd: 5,
  dnnl_acdb: 20,
  dnnl_cdba: 30,
  dnnl_x: 2, // (a)
  dnnl_nc: 3, // (ab)
  dnnl_nchw: 5, // (abcd)
  dnnl_nhwc: 20, // (acdb)
  dnnl_oihw: 5, // (abcd)
  dnnl_ohwi: 20, // (acdb)
  dnnl_hwio: 30, // (cdba)
  // dnnl_prop_kind_t
  dnnl_forward_training: 64,
  dnnl_forward_inference: 96,
  dnnl_backward: 128,
  dnnl_backward_data: 160,
  dnnl_backward_weights: 192,
  // dnnl_alg_kind_t
  dnnl_convolution_direct: 0x1,
  dnnl_convolution_auto: 0x3,
  dnnl_eltwise_relu: 0x1f,
  dnnl_pooling_max: 0x1ff,
  dnnl_binary_add: 0x1fff0,
  // dnnl_normalization_flags_t (bit flags)
  dnnl_normalization_flags_none: 0x0,
  dnnl_use_global_stats: 0x1,
  dnnl_use_scaleshift: 0x2,
  dnnl_fuse_norm_relu: 0x4,
  dnnl_use_scale: 0x8,
  dnnl_use_shift: 0x10,
  // dnnl_engine_kind_t
  dnnl_cpu: 1,
  // dnnl_scratchpad_mode_t
  dnnl_scratchpad_mode_library: 0,
  dnnl_scratchpad_mode_user: 1,
  // dnnl_query_t
  dnnl_query_impl_info_str: 8,
  dnnl_query_src_md: 129,
  dnnl_query_diff_src_md: 130,
  dnnl_query_weights_md: 131,
  dnnl_query_diff_weights_md: 132,
  dnnl_query_dst_md: 133,
  dnnl_query_diff_dst_md: 134,
  dnnl_query_workspace_md: 135,
  dnnl_query_scratchpad_md: 136,
  dnnl_query_exec_arg_md: 255,
  // dnnl_stream_flags_t
  dnnl_stream_default_flags: 0x1,
  // dnnl_cpu_isa_t
  dnnl_cpu_isa_all: 0x0,
  dnnl_cpu_isa_sse41: 0x1,
  dnnl_cpu_isa_avx: 0x3,
  dnnl_cpu_isa_avx2: 0x7,
  dnnl_cpu_isa_avx512_mic: 0xf,
  dnnl_cpu_isa_avx512_mic_4ops: 0x1f,
  dnnl_cpu_isa_avx512_core: 0x27,
  dnnl_cpu_isa_avx512_core_vnni: 0x67,
  dnnl_cpu_isa_avx512_core_bf16: 0xe7,
  dnnl_cpu_isa_avx512_core_amx: 0x3e7,
  dnnl_cpu_isa_avx2_vnni: 0x407,
} as const;

/**
 * Execution-argument indices (`#define DNNL_ARG_*` in `dnnl_types.h`).
 *
 * @example
 * ```ts
 * import { ARG } from "./abi.ts";
 * const src = ARG.DNNL_ARG_SRC; // 1
 * ```
 */
export const ARG = {
  DNNL_ARG_SRC: 1,
  DNNL_ARG_SRC_1: 2,
  DNNL_ARG_DST: 17,
  DNNL_ARG_WEIGHTS: 33,
  DNNL_ARG_BIAS: 41,
  DNNL_ARG_MEAN: 49,
  DNNL_ARG_VARIANCE: 50,
  DNNL_ARG_SCALE: 51,
  DNNL_ARG_SHIFT: 52,
  DNNL_ARG_WORKSPACE: 64,
  DNNL_ARG_SCRATCHPAD: 80,
  DNNL_ARG_DIFF_SRC: 129,
  DNNL_ARG_DIFF_DST: 145,
  DNNL_ARG_DIFF_WEIGHTS: 161,
  DNNL_ARG_DIFF_BIAS: 169,
  DNNL_ARG_DIFF_SCALE: 255,
  DNNL_ARG_DIFF_SHIFT: 256,
  DNNL_ARG_FROM: 1,
  DNNL_ARG_TO: 17,
} as const;

/** `DNNL_MAX_NDIMS`: length of every `dnnl_dims_t` array. */
export const DNNL_MAX_NDIMS = 12;

/**
 * `DNNL_RUNTIME_OMP` (2u): the `cpu_runtime` field of `dnnl_version_t` when the library was built
 * with OpenMP, which is why thread control goes through libgomp.
 */
export const DNNL_RUNTIME_OMP = 2;

/**
 * Struct sizes in bytes on x86-64 (LP64), checked with `sizeof` by the ABI test. By hand:
 * - `dnnl_memory_desc_t` 696: ndims 4 (+4 pad) + dims 96 + data_type 4 (+4) + padded_dims 96 +
 *   padded_offsets 96 + offset0 8 + format_kind 4 (+4) + union 296 (the blocking desc: strides 96,
 *   inner_nblks 4 (+4), inner_blks 96, inner_idxs 96; the rnn-packed desc is also 296) + extra 80
 *   (flags 8, three 4-byte fields, reserved 60).
 * - `dnnl_convolution_desc_t` 5976: 3 enums 12 (+4) + 8 memory descs 5568 + strides, dilates 192
 *   + padding[2] 192 + accum type 4 (+4 tail pad to 8).
 * - `dnnl_eltwise_desc_t` 1416: 3 enums 12 (+4) + 2 mds 1392 + alpha, beta 8.
 * - `dnnl_pooling_desc_t` 3192: 16 + 4 mds 2784 + strides, kernel, padding[2] 384 + 4 (+4).
 * - `dnnl_batch_normalization_desc_t` 3496: 2 enums 8 + 5 mds 3480 + epsilon 4 + flags 4.
 * - `dnnl_binary_desc_t` 2096: 2 enums 8 + 3 mds 2088.
 * - `dnnl_exec_arg_t` 16: int arg 4 (+4) + pointer 8.
 * - `dnnl_version_t` 32: 3 ints 12 (+4) + hash pointer 8 + 2 unsigned 8.
 *
 * @example
 * ```ts
 * import { SIZEOF } from "./abi.ts";
 * const args = new Uint8Array(3 * SIZEOF.dnnl_exec_arg_t);
 * ```
 */
export const SIZEOF = {
  dnnl_memory_desc_t: 696,
  dnnl_convolution_desc_t: 5976,
  dnnl_eltwise_desc_t: 1416,
  dnnl_pooling_desc_t: 3192,
  dnnl_batch_normalization_desc_t: 3496,
  dnnl_binary_desc_t: 2096,
  dnnl_exec_arg_t: 16,
  dnnl_version_t: 32,
} as const;

/**
 * Field offsets in bytes (x86-64), for the few fields this binding reads or writes directly.
 *
 * @example
 * ```ts
 * import { OFFSET } from "./abi.ts";
 * const view = new DataView(new ArrayBuffer(16));
 * view.setInt32(OFFSET.dnnl_exec_arg_t_arg, 1, true);
 * ```
 */
export const OFFSET = {
  dnnl_exec_arg_t_arg: 0,
  dnnl_exec_arg_t_memory: 8,
  dnnl_version_t_major: 0,
  dnnl_version_t_minor: 4,
  dnnl_version_t_patch: 8,
  dnnl_version_t_hash: 16,
  dnnl_version_t_cpu_runtime: 24,
  dnnl_memory_desc_t_ndims: 0,
  dnnl_memory_desc_t_dims: 8,
  dnnl_memory_desc_t_data_type: 104,
  dnnl_memory_desc_t_format_kind: 312,
  dnnl_memory_desc_t_format_desc: 320, // the union; its blocking member starts there
  dnnl_blocking_desc_t_strides: 0,
  dnnl_blocking_desc_t_inner_nblks: 96,
  dnnl_blocking_desc_t_inner_blks: 104,
  dnnl_blocking_desc_t_inner_idxs: 200,
} as const;

/**
 * Names of `dnnl_cpu_isa_t` values, for reports.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isaName } from "./abi.ts";
 * assert.equal(isaName(7), "avx2");
 * ```
 */
export function isaName(isa: number): string {
  for (const [name, value] of Object.entries(ENUM)) {
    if (name.startsWith("dnnl_cpu_isa_") && value === isa) return name.slice(13);
  }
  return `unknown(0x${isa.toString(16)})`;
}
