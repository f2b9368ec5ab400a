;; The SIMD kernels of reranking (rerankKernel.ts): dot products of one float32 query prefix with several
;; float32 database rows, and the rows' squared norms, all read in place from a shared memory that the
;; caller provides (any size: one binary for every allocation). scripts/build-wasm.sh turns this text into
;; lib/dist/kernels/dots.wasm with Debian's wat2wasm; wasm.ts loads it.
;;
;; Every function takes (q, o0..o7 or o0..o3, dimBytes, out): byte addresses of the query prefix and of the
;; rows, the prefix length in bytes (4 * dim) and where to write the results. norms* ignore q. Rows are only
;; 4-byte aligned (align=4 on every load).
;;
;; float64: dots8, norms8 -> eight f64 at out (row 0 first)
;;   Rows 2p and 2p+1 share one f64x2 accumulator $acc<p>: lane 0 is row 2p, lane 1 row 2p+1. Each lane adds
;;   (f64) row[c] * (f64) q[c] for c = 0, 1, 2, ... in dimension order, starting from +0, exactly the scalar
;;   loop `dot += db[o + c] * q[qo + c]` (the product of two float32 values is exact in float64, so the only
;;   rounding is the addition's, in the same order). The main loop reads four dims per row per round (one
;;   16-byte load) and interleaves two rows with i8x16.shuffle so that each f64x2 multiply-add takes dim c of
;;   both rows; the remaining 0..3 dims go one at a time.
;;
;; float32: dots8f, norms8f (8 rows), dots4f, norms4f (4 rows) -> eight or four f32 at out
;;   Each row has its own f32x4 accumulator $acc<r>: lane l adds f32(row[c] * q[c]) in float32 for the dims
;;   c = l mod 4, in order, starting from +0 (one 16-byte load per row and four dims, no shuffles). The last
;;   1..3 dims are loaded into lanes 0..2 of zeroed vectors, as if the prefix were padded with zeros to a
;;   multiple of four (a padded lane adds 0 * 0 = +0). Each row's result is (s0 + s1) + (s2 + s3). This is,
;;   operation by operation, `dotF32` in rerankKernel.ts, so results are bit-identical to it (dotF32 computes
;;   each product and sum in float64 and rounds it with Math.fround, which gives the correctly rounded float32
;;   result that f32x4.mul / f32x4.add compute: float64 has more than twice float32's precision).
;;
;; The memory import's limits (1..65536 pages, shared) accept any shared memory whose initial = maximum size
;; is 1..65536 pages.
(module
  (import "env" "memory" (memory 1 65536 shared))

  ;; ---------------------------------------------------------------------------------------------------------
  ;; dots8: out[r] = sum over c of row_r[c] * q[c] in float64, r = 0..7
  (func $dots8 (export "dots8")
    (param $q i32) (param $o0 i32) (param $o1 i32) (param $o2 i32) (param $o3 i32)
    (param $o4 i32) (param $o5 i32) (param $o6 i32) (param $o7 i32) (param $dimBytes i32) (param $out i32)
    (local $c i32)                    ;; byte offset of the current dim in q and in every row
    (local $x0 v128) (local $x1 v128) ;; q[c], q[c+1], q[c+2], q[c+3] in both f64 lanes
    (local $x2 v128) (local $x3 v128)
    (local $acc0 v128) (local $acc1 v128) (local $acc2 v128) (local $acc3 v128) ;; rows 0|1, 2|3, 4|5, 6|7
    (local $a v128) (local $b v128)   ;; four dims of row 2p (a0..a3) and of row 2p+1 (b0..b3)
    (local $lo v128) (local $hi v128) ;; f32 lanes [a0 b0 a1 b1] and [a2 b2 a3 b3]
    (local $t v128)                   ;; (used by norms8 only; dots8 keeps the same locals)
    (local $x v128)                   ;; tail: q[c] in both f64 lanes

    ;; main loop: dims c..c+3 while c + 16 <= dimBytes
    (block $done
      (loop $round
        (br_if $done (i32.gt_u (i32.add (local.get $c) (i32.const 16)) (local.get $dimBytes)))
        (local.set $x0 (f64x2.splat (f64.promote_f32 (f32.load (i32.add (local.get $q) (local.get $c))))))
        (local.set $x1 (f64x2.splat (f64.promote_f32 (f32.load offset=4 (i32.add (local.get $q) (local.get $c))))))
        (local.set $x2 (f64x2.splat (f64.promote_f32 (f32.load offset=8 (i32.add (local.get $q) (local.get $c))))))
        (local.set $x3 (f64x2.splat (f64.promote_f32 (f32.load offset=12 (i32.add (local.get $q) (local.get $c))))))
        ;; Per pair: load, interleave, then dims c, c+1, c+2, c+3 in order. promote_low takes f32 lanes 0, 1;
        ;; the "high to low" shuffle (f64 half 1 copied to half 0) brings lanes 2, 3 there.
        ;; rows 0 | 1
        (local.set $a (v128.load align=4 (i32.add (local.get $o0) (local.get $c))))
        (local.set $b (v128.load align=4 (i32.add (local.get $o1) (local.get $c))))
        (local.set $lo (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $a) (local.get $b)))
        (local.set $hi (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $a) (local.get $b)))
        (local.set $acc0 (f64x2.add (f64x2.mul (f64x2.promote_low_f32x4 (local.get $lo)) (local.get $x0)) (local.get $acc0)))
        (local.set $acc0 (f64x2.add (f64x2.mul (f64x2.promote_low_f32x4
          (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $lo) (local.get $lo))) (local.get $x1)) (local.get $acc0)))
        (local.set $acc0 (f64x2.add (f64x2.mul (f64x2.promote_low_f32x4 (local.get $hi)) (local.get $x2)) (local.get $acc0)))
        (local.set $acc0 (f64x2.add (f64x2.mul (f64x2.promote_low_f32x4
          (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $hi) (local.get $hi))) (local.get $x3)) (local.get $acc0)))
        ;; rows 2 | 3
        (local.set $a (v128.load align=4 (i32.add (local.get $o2) (local.get $c))))
        (local.set $b (v128.load align=4 (i32.add (local.get $o3) (local.get $c))))
        (local.set $lo (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $a) (local.get $b)))
        (local.set $hi (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $a) (local.get $b)))
        (local.set $acc1 (f64x2.add (f64x2.mul (f64x2.promote_low_f32x4 (local.get $lo)) (local.get $x0)) (local.get $acc1)))
        (local.set $acc1 (f64x2.add (f64x2.mul (f64x2.promote_low_f32x4
          (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $lo) (local.get $lo))) (local.get $x1)) (local.get $acc1)))
        (local.set $acc1 (f64x2.add (f64x2.mul (f64x2.promote_low_f32x4 (local.get $hi)) (local.get $x2)) (local.get $acc1)))
        (local.set $acc1 (f64x2.add (f64x2.mul (f64x2.promote_low_f32x4
          (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $hi) (local.get $hi))) (local.get $x3)) (local.get $acc1)))
        ;; rows 4 | 5
        (local.set $a (v128.load align=4 (i32.add (local.get $o4) (local.get $c))))
        (local.set $b (v128.load align=4 (i32.add (local.get $o5) (local.get $c))))
        (local.set $lo (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $a) (local.get $b)))
        (local.set $hi (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $a) (local.get $b)))
        (local.set $acc2 (f64x2.add (f64x2.mul (f64x2.promote_low_f32x4 (local.get $lo)) (local.get $x0)) (local.get $acc2)))
        (local.set $acc2 (f64x2.add (f64x2.mul (f64x2.promote_low_f32x4
          (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $lo) (local.get $lo))) (local.get $x1)) (local.get $acc2)))
        (local.set $acc2 (f64x2.add (f64x2.mul (f64x2.promote_low_f32x4 (local.get $hi)) (local.get $x2)) (local.get $acc2)))
        (local.set $acc2 (f64x2.add (f64x2.mul (f64x2.promote_low_f32x4
          (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $hi) (local.get $hi))) (local.get $x3)) (local.get $acc2)))
        ;; rows 6 | 7
        (local.set $a (v128.load align=4 (i32.add (local.get $o6) (local.get $c))))
        (local.set $b (v128.load align=4 (i32.add (local.get $o7) (local.get $c))))
        (local.set $lo (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $a) (local.get $b)))
        (local.set $hi (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $a) (local.get $b)))
        (local.set $acc3 (f64x2.add (f64x2.mul (f64x2.promote_low_f32x4 (local.get $lo)) (local.get $x0)) (local.get $acc3)))
        (local.set $acc3 (f64x2.add (f64x2.mul (f64x2.promote_low_f32x4
          (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $lo) (local.get $lo))) (local.get $x1)) (local.get $acc3)))
        (local.set $acc3 (f64x2.add (f64x2.mul (f64x2.promote_low_f32x4 (local.get $hi)) (local.get $x2)) (local.get $acc3)))
        (local.set $acc3 (f64x2.add (f64x2.mul (f64x2.promote_low_f32x4
          (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $hi) (local.get $hi))) (local.get $x3)) (local.get $acc3)))
        (local.set $c (i32.add (local.get $c) (i32.const 16)))
        (br $round)))

    ;; tail: the remaining dims one at a time; row 2p's value into lane 0 of a zeroed vector, row 2p+1's into lane 1
    (block $done
      (loop $dim
        (br_if $done (i32.ge_u (local.get $c) (local.get $dimBytes)))
        (local.set $x (f64x2.splat (f64.promote_f32 (f32.load (i32.add (local.get $q) (local.get $c))))))
        (local.set $acc0 (f64x2.add (f64x2.mul (f64x2.promote_low_f32x4
          (v128.load32_lane align=4 1 (i32.add (local.get $o1) (local.get $c)) (v128.load32_zero align=4 (i32.add (local.get $o0) (local.get $c)))))
          (local.get $x)) (local.get $acc0)))
        (local.set $acc1 (f64x2.add (f64x2.mul (f64x2.promote_low_f32x4
          (v128.load32_lane align=4 1 (i32.add (local.get $o3) (local.get $c)) (v128.load32_zero align=4 (i32.add (local.get $o2) (local.get $c)))))
          (local.get $x)) (local.get $acc1)))
        (local.set $acc2 (f64x2.add (f64x2.mul (f64x2.promote_low_f32x4
          (v128.load32_lane align=4 1 (i32.add (local.get $o5) (local.get $c)) (v128.load32_zero align=4 (i32.add (local.get $o4) (local.get $c)))))
          (local.get $x)) (local.get $acc2)))
        (local.set $acc3 (f64x2.add (f64x2.mul (f64x2.promote_low_f32x4
          (v128.load32_lane align=4 1 (i32.add (local.get $o7) (local.get $c)) (v128.load32_zero align=4 (i32.add (local.get $o6) (local.get $c)))))
          (local.get $x)) (local.get $acc3)))
        (local.set $c (i32.add (local.get $c) (i32.const 4)))
        (br $dim)))

    ;; results: out[0..7] = rows 0..7 as f64 (each accumulator holds two consecutive rows)
    (v128.store align=8 (local.get $out) (local.get $acc0))
    (v128.store offset=16 align=8 (local.get $out) (local.get $acc1))
    (v128.store offset=32 align=8 (local.get $out) (local.get $acc2))
    (v128.store offset=48 align=8 (local.get $out) (local.get $acc3)))

  ;; ---------------------------------------------------------------------------------------------------------
  ;; norms8: out[r] = sum over c of row_r[c] * row_r[c] in float64; dots8 with each promoted vector $t
  ;; multiplied by itself instead of by q (q is ignored)
  (func $norms8 (export "norms8")
    (param $q i32) (param $o0 i32) (param $o1 i32) (param $o2 i32) (param $o3 i32)
    (param $o4 i32) (param $o5 i32) (param $o6 i32) (param $o7 i32) (param $dimBytes i32) (param $out i32)
    (local $c i32)
    (local $x0 v128) (local $x1 v128) (local $x2 v128) (local $x3 v128) ;; (unused: dots8's layout)
    (local $acc0 v128) (local $acc1 v128) (local $acc2 v128) (local $acc3 v128)
    (local $a v128) (local $b v128) (local $lo v128) (local $hi v128)
    (local $t v128)                   ;; the two rows' values at one dim, as f64
    (local $x v128)                   ;; (unused: dots8's layout)

    ;; main loop: dims c..c+3 while c + 16 <= dimBytes
    (block $done
      (loop $round
        (br_if $done (i32.gt_u (i32.add (local.get $c) (i32.const 16)) (local.get $dimBytes)))
        ;; rows 0 | 1
        (local.set $a (v128.load align=4 (i32.add (local.get $o0) (local.get $c))))
        (local.set $b (v128.load align=4 (i32.add (local.get $o1) (local.get $c))))
        (local.set $lo (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $a) (local.get $b)))
        (local.set $hi (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $a) (local.get $b)))
        (local.set $t (f64x2.promote_low_f32x4 (local.get $lo)))
        (local.set $acc0 (f64x2.add (f64x2.mul (local.get $t) (local.get $t)) (local.get $acc0)))
        (local.set $t (f64x2.promote_low_f32x4
          (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $lo) (local.get $lo))))
        (local.set $acc0 (f64x2.add (f64x2.mul (local.get $t) (local.get $t)) (local.get $acc0)))
        (local.set $t (f64x2.promote_low_f32x4 (local.get $hi)))
        (local.set $acc0 (f64x2.add (f64x2.mul (local.get $t) (local.get $t)) (local.get $acc0)))
        (local.set $t (f64x2.promote_low_f32x4
          (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $hi) (local.get $hi))))
        (local.set $acc0 (f64x2.add (f64x2.mul (local.get $t) (local.get $t)) (local.get $acc0)))
        ;; rows 2 | 3
        (local.set $a (v128.load align=4 (i32.add (local.get $o2) (local.get $c))))
        (local.set $b (v128.load align=4 (i32.add (local.get $o3) (local.get $c))))
        (local.set $lo (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $a) (local.get $b)))
        (local.set $hi (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $a) (local.get $b)))
        (local.set $t (f64x2.promote_low_f32x4 (local.get $lo)))
        (local.set $acc1 (f64x2.add (f64x2.mul (local.get $t) (local.get $t)) (local.get $acc1)))
        (local.set $t (f64x2.promote_low_f32x4
          (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $lo) (local.get $lo))))
        (local.set $acc1 (f64x2.add (f64x2.mul (local.get $t) (local.get $t)) (local.get $acc1)))
        (local.set $t (f64x2.promote_low_f32x4 (local.get $hi)))
        (local.set $acc1 (f64x2.add (f64x2.mul (local.get $t) (local.get $t)) (local.get $acc1)))
        (local.set $t (f64x2.promote_low_f32x4
          (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $hi) (local.get $hi))))
        (local.set $acc1 (f64x2.add (f64x2.mul (local.get $t) (local.get $t)) (local.get $acc1)))
        ;; rows 4 | 5
        (local.set $a (v128.load align=4 (i32.add (local.get $o4) (local.get $c))))
        (local.set $b (v128.load align=4 (i32.add (local.get $o5) (local.get $c))))
        (local.set $lo (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $a) (local.get $b)))
        (local.set $hi (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $a) (local.get $b)))
        (local.set $t (f64x2.promote_low_f32x4 (local.get $lo)))
        (local.set $acc2 (f64x2.add (f64x2.mul (local.get $t) (local.get $t)) (local.get $acc2)))
        (local.set $t (f64x2.promote_low_f32x4
          (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $lo) (local.get $lo))))
        (local.set $acc2 (f64x2.add (f64x2.mul (local.get $t) (local.get $t)) (local.get $acc2)))
        (local.set $t (f64x2.promote_low_f32x4 (local.get $hi)))
        (local.set $acc2 (f64x2.add (f64x2.mul (local.get $t) (local.get $t)) (local.get $acc2)))
        (local.set $t (f64x2.promote_low_f32x4
          (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $hi) (local.get $hi))))
        (local.set $acc2 (f64x2.add (f64x2.mul (local.get $t) (local.get $t)) (local.get $acc2)))
        ;; rows 6 | 7
        (local.set $a (v128.load align=4 (i32.add (local.get $o6) (local.get $c))))
        (local.set $b (v128.load align=4 (i32.add (local.get $o7) (local.get $c))))
        (local.set $lo (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $a) (local.get $b)))
        (local.set $hi (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $a) (local.get $b)))
        (local.set $t (f64x2.promote_low_f32x4 (local.get $lo)))
        (local.set $acc3 (f64x2.add (f64x2.mul (local.get $t) (local.get $t)) (local.get $acc3)))
        (local.set $t (f64x2.promote_low_f32x4
          (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $lo) (local.get $lo))))
        (local.set $acc3 (f64x2.add (f64x2.mul (local.get $t) (local.get $t)) (local.get $acc3)))
        (local.set $t (f64x2.promote_low_f32x4 (local.get $hi)))
        (local.set $acc3 (f64x2.add (f64x2.mul (local.get $t) (local.get $t)) (local.get $acc3)))
        (local.set $t (f64x2.promote_low_f32x4
          (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $hi) (local.get $hi))))
        (local.set $acc3 (f64x2.add (f64x2.mul (local.get $t) (local.get $t)) (local.get $acc3)))
        (local.set $c (i32.add (local.get $c) (i32.const 16)))
        (br $round)))

    ;; tail: the remaining dims one at a time (lane 0 row 2p, lane 1 row 2p+1)
    (block $done
      (loop $dim
        (br_if $done (i32.ge_u (local.get $c) (local.get $dimBytes)))
        (local.set $t (f64x2.promote_low_f32x4
          (v128.load32_lane align=4 1 (i32.add (local.get $o1) (local.get $c)) (v128.load32_zero align=4 (i32.add (local.get $o0) (local.get $c))))))
        (local.set $acc0 (f64x2.add (f64x2.mul (local.get $t) (local.get $t)) (local.get $acc0)))
        (local.set $t (f64x2.promote_low_f32x4
          (v128.load32_lane align=4 1 (i32.add (local.get $o3) (local.get $c)) (v128.load32_zero align=4 (i32.add (local.get $o2) (local.get $c))))))
        (local.set $acc1 (f64x2.add (f64x2.mul (local.get $t) (local.get $t)) (local.get $acc1)))
        (local.set $t (f64x2.promote_low_f32x4
          (v128.load32_lane align=4 1 (i32.add (local.get $o5) (local.get $c)) (v128.load32_zero align=4 (i32.add (local.get $o4) (local.get $c))))))
        (local.set $acc2 (f64x2.add (f64x2.mul (local.get $t) (local.get $t)) (local.get $acc2)))
        (local.set $t (f64x2.promote_low_f32x4
          (v128.load32_lane align=4 1 (i32.add (local.get $o7) (local.get $c)) (v128.load32_zero align=4 (i32.add (local.get $o6) (local.get $c))))))
        (local.set $acc3 (f64x2.add (f64x2.mul (local.get $t) (local.get $t)) (local.get $acc3)))
        (local.set $c (i32.add (local.get $c) (i32.const 4)))
        (br $dim)))

    (v128.store align=8 (local.get $out) (local.get $acc0))
    (v128.store offset=16 align=8 (local.get $out) (local.get $acc1))
    (v128.store offset=32 align=8 (local.get $out) (local.get $acc2))
    (v128.store offset=48 align=8 (local.get $out) (local.get $acc3)))

  ;; ---------------------------------------------------------------------------------------------------------
  ;; dots8f: out[r] = dotF32(row_r, q) in float32, r = 0..7
  (func $dots8f (export "dots8f")
    (param $q i32) (param $o0 i32) (param $o1 i32) (param $o2 i32) (param $o3 i32)
    (param $o4 i32) (param $o5 i32) (param $o6 i32) (param $o7 i32) (param $dimBytes i32) (param $out i32)
    (local $c i32)
    (local $x v128)                   ;; q[c..c+3] (tail: zero-padded); at the end, pair sums of rows 0..3 / 4..7
    (local $t v128)                   ;; at the end: pair sums of rows 2, 3 / 6, 7
    (local $acc0 v128) (local $acc1 v128) (local $acc2 v128) (local $acc3 v128) ;; one per row, lane l: dims l mod 4
    (local $acc4 v128) (local $acc5 v128) (local $acc6 v128) (local $acc7 v128)
    (local $tail0 v128) (local $tail1 v128) (local $tail2 v128) (local $tail3 v128) ;; each row's last 1..3 dims
    (local $tail4 v128) (local $tail5 v128) (local $tail6 v128) (local $tail7 v128)

    ;; main loop: dims c..c+3 while c + 16 <= dimBytes; lane l of $acc<r> += row_r[c+l] * q[c+l]
    (block $done
      (loop $round
        (br_if $done (i32.gt_u (i32.add (local.get $c) (i32.const 16)) (local.get $dimBytes)))
        (local.set $x (v128.load align=4 (i32.add (local.get $q) (local.get $c))))
        (local.set $acc0 (f32x4.add (f32x4.mul (v128.load align=4 (i32.add (local.get $o0) (local.get $c))) (local.get $x)) (local.get $acc0)))
        (local.set $acc1 (f32x4.add (f32x4.mul (v128.load align=4 (i32.add (local.get $o1) (local.get $c))) (local.get $x)) (local.get $acc1)))
        (local.set $acc2 (f32x4.add (f32x4.mul (v128.load align=4 (i32.add (local.get $o2) (local.get $c))) (local.get $x)) (local.get $acc2)))
        (local.set $acc3 (f32x4.add (f32x4.mul (v128.load align=4 (i32.add (local.get $o3) (local.get $c))) (local.get $x)) (local.get $acc3)))
        (local.set $acc4 (f32x4.add (f32x4.mul (v128.load align=4 (i32.add (local.get $o4) (local.get $c))) (local.get $x)) (local.get $acc4)))
        (local.set $acc5 (f32x4.add (f32x4.mul (v128.load align=4 (i32.add (local.get $o5) (local.get $c))) (local.get $x)) (local.get $acc5)))
        (local.set $acc6 (f32x4.add (f32x4.mul (v128.load align=4 (i32.add (local.get $o6) (local.get $c))) (local.get $x)) (local.get $acc6)))
        (local.set $acc7 (f32x4.add (f32x4.mul (v128.load align=4 (i32.add (local.get $o7) (local.get $c))) (local.get $x)) (local.get $acc7)))
        (local.set $c (i32.add (local.get $c) (i32.const 16)))
        (br $round)))

    ;; tail: the last 1..3 dims (none when c = dimBytes) into lanes 0..2 of zeroed vectors, one multiply-add
    (block $noTail
      (br_if $noTail (i32.ge_u (local.get $c) (local.get $dimBytes)))
      ;; lane 0: dim c
      (local.set $x (v128.load32_zero align=4 (i32.add (local.get $q) (local.get $c))))
      (local.set $tail0 (v128.load32_zero align=4 (i32.add (local.get $o0) (local.get $c))))
      (local.set $tail1 (v128.load32_zero align=4 (i32.add (local.get $o1) (local.get $c))))
      (local.set $tail2 (v128.load32_zero align=4 (i32.add (local.get $o2) (local.get $c))))
      (local.set $tail3 (v128.load32_zero align=4 (i32.add (local.get $o3) (local.get $c))))
      (local.set $tail4 (v128.load32_zero align=4 (i32.add (local.get $o4) (local.get $c))))
      (local.set $tail5 (v128.load32_zero align=4 (i32.add (local.get $o5) (local.get $c))))
      (local.set $tail6 (v128.load32_zero align=4 (i32.add (local.get $o6) (local.get $c))))
      (local.set $tail7 (v128.load32_zero align=4 (i32.add (local.get $o7) (local.get $c))))
      (block $loaded
        ;; lane 1: dim c+1, if c + 4 < dimBytes
        (br_if $loaded (i32.ge_u (i32.add (local.get $c) (i32.const 4)) (local.get $dimBytes)))
        (local.set $x (v128.load32_lane align=4 1 (i32.add (i32.add (local.get $q) (local.get $c)) (i32.const 4)) (local.get $x)))
        (local.set $tail0 (v128.load32_lane align=4 1 (i32.add (i32.add (local.get $o0) (local.get $c)) (i32.const 4)) (local.get $tail0)))
        (local.set $tail1 (v128.load32_lane align=4 1 (i32.add (i32.add (local.get $o1) (local.get $c)) (i32.const 4)) (local.get $tail1)))
        (local.set $tail2 (v128.load32_lane align=4 1 (i32.add (i32.add (local.get $o2) (local.get $c)) (i32.const 4)) (local.get $tail2)))
        (local.set $tail3 (v128.load32_lane align=4 1 (i32.add (i32.add (local.get $o3) (local.get $c)) (i32.const 4)) (local.get $tail3)))
        (local.set $tail4 (v128.load32_lane align=4 1 (i32.add (i32.add (local.get $o4) (local.get $c)) (i32.const 4)) (local.get $tail4)))
        (local.set $tail5 (v128.load32_lane align=4 1 (i32.add (i32.add (local.get $o5) (local.get $c)) (i32.const 4)) (local.get $tail5)))
        (local.set $tail6 (v128.load32_lane align=4 1 (i32.add (i32.add (local.get $o6) (local.get $c)) (i32.const 4)) (local.get $tail6)))
        (local.set $tail7 (v128.load32_lane align=4 1 (i32.add (i32.add (local.get $o7) (local.get $c)) (i32.const 4)) (local.get $tail7)))
        ;; lane 2: dim c+2, if c + 8 < dimBytes
        (br_if $loaded (i32.ge_u (i32.add (local.get $c) (i32.const 8)) (local.get $dimBytes)))
        (local.set $x (v128.load32_lane align=4 2 (i32.add (i32.add (local.get $q) (local.get $c)) (i32.const 8)) (local.get $x)))
        (local.set $tail0 (v128.load32_lane align=4 2 (i32.add (i32.add (local.get $o0) (local.get $c)) (i32.const 8)) (local.get $tail0)))
        (local.set $tail1 (v128.load32_lane align=4 2 (i32.add (i32.add (local.get $o1) (local.get $c)) (i32.const 8)) (local.get $tail1)))
        (local.set $tail2 (v128.load32_lane align=4 2 (i32.add (i32.add (local.get $o2) (local.get $c)) (i32.const 8)) (local.get $tail2)))
        (local.set $tail3 (v128.load32_lane align=4 2 (i32.add (i32.add (local.get $o3) (local.get $c)) (i32.const 8)) (local.get $tail3)))
        (local.set $tail4 (v128.load32_lane align=4 2 (i32.add (i32.add (local.get $o4) (local.get $c)) (i32.const 8)) (local.get $tail4)))
        (local.set $tail5 (v128.load32_lane align=4 2 (i32.add (i32.add (local.get $o5) (local.get $c)) (i32.const 8)) (local.get $tail5)))
        (local.set $tail6 (v128.load32_lane align=4 2 (i32.add (i32.add (local.get $o6) (local.get $c)) (i32.const 8)) (local.get $tail6)))
        (local.set $tail7 (v128.load32_lane align=4 2 (i32.add (i32.add (local.get $o7) (local.get $c)) (i32.const 8)) (local.get $tail7))))
      (local.set $acc0 (f32x4.add (f32x4.mul (local.get $tail0) (local.get $x)) (local.get $acc0)))
      (local.set $acc1 (f32x4.add (f32x4.mul (local.get $tail1) (local.get $x)) (local.get $acc1)))
      (local.set $acc2 (f32x4.add (f32x4.mul (local.get $tail2) (local.get $x)) (local.get $acc2)))
      (local.set $acc3 (f32x4.add (f32x4.mul (local.get $tail3) (local.get $x)) (local.get $acc3)))
      (local.set $acc4 (f32x4.add (f32x4.mul (local.get $tail4) (local.get $x)) (local.get $acc4)))
      (local.set $acc5 (f32x4.add (f32x4.mul (local.get $tail5) (local.get $x)) (local.get $acc5)))
      (local.set $acc6 (f32x4.add (f32x4.mul (local.get $tail6) (local.get $x)) (local.get $acc6)))
      (local.set $acc7 (f32x4.add (f32x4.mul (local.get $tail7) (local.get $x)) (local.get $acc7))))

    ;; results: (s0 + s1) + (s2 + s3) per row, four rows per vector. For rows A, B:
    ;; [A0 B0 A2 B2] + [A1 B1 A3 B3] = [A0+A1 B0+B1 A2+A3 B2+B3]; then with C, D:
    ;; [A01 B01 C01 D01] + [A23 B23 C23 D23] = the four results, stored at out.
    ;; rows 0..3 -> out[0..3]
    (local.set $x (f32x4.add
      (i8x16.shuffle 0 1 2 3 16 17 18 19 8 9 10 11 24 25 26 27 (local.get $acc0) (local.get $acc1))
      (i8x16.shuffle 4 5 6 7 20 21 22 23 12 13 14 15 28 29 30 31 (local.get $acc0) (local.get $acc1))))
    (local.set $t (f32x4.add
      (i8x16.shuffle 0 1 2 3 16 17 18 19 8 9 10 11 24 25 26 27 (local.get $acc2) (local.get $acc3))
      (i8x16.shuffle 4 5 6 7 20 21 22 23 12 13 14 15 28 29 30 31 (local.get $acc2) (local.get $acc3))))
    (v128.store align=4 (local.get $out) (f32x4.add
      (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $x) (local.get $t))
      (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $x) (local.get $t))))
    ;; rows 4..7 -> out[4..7]
    (local.set $x (f32x4.add
      (i8x16.shuffle 0 1 2 3 16 17 18 19 8 9 10 11 24 25 26 27 (local.get $acc4) (local.get $acc5))
      (i8x16.shuffle 4 5 6 7 20 21 22 23 12 13 14 15 28 29 30 31 (local.get $acc4) (local.get $acc5))))
    (local.set $t (f32x4.add
      (i8x16.shuffle 0 1 2 3 16 17 18 19 8 9 10 11 24 25 26 27 (local.get $acc6) (local.get $acc7))
      (i8x16.shuffle 4 5 6 7 20 21 22 23 12 13 14 15 28 29 30 31 (local.get $acc6) (local.get $acc7))))
    (v128.store offset=16 align=4 (local.get $out) (f32x4.add
      (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $x) (local.get $t))
      (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $x) (local.get $t)))))

  ;; ---------------------------------------------------------------------------------------------------------
  ;; norms8f: out[r] = dotF32(row_r, row_r) in float32, r = 0..7 (q is ignored). As dots8f, with each loaded
  ;; vector kept in $t and multiplied by itself.
  (func $norms8f (export "norms8f")
    (param $q i32) (param $o0 i32) (param $o1 i32) (param $o2 i32) (param $o3 i32)
    (param $o4 i32) (param $o5 i32) (param $o6 i32) (param $o7 i32) (param $dimBytes i32) (param $out i32)
    (local $c i32)
    (local $x v128) (local $t v128)
    (local $acc0 v128) (local $acc1 v128) (local $acc2 v128) (local $acc3 v128)
    (local $acc4 v128) (local $acc5 v128) (local $acc6 v128) (local $acc7 v128)
    (local $tail0 v128) (local $tail1 v128) (local $tail2 v128) (local $tail3 v128)
    (local $tail4 v128) (local $tail5 v128) (local $tail6 v128) (local $tail7 v128)

    ;; main loop: dims c..c+3 while c + 16 <= dimBytes; lane l of $acc<r> += row_r[c+l]^2
    (block $done
      (loop $round
        (br_if $done (i32.gt_u (i32.add (local.get $c) (i32.const 16)) (local.get $dimBytes)))
        (local.set $t (v128.load align=4 (i32.add (local.get $o0) (local.get $c))))
        (local.set $acc0 (f32x4.add (f32x4.mul (local.get $t) (local.get $t)) (local.get $acc0)))
        (local.set $t (v128.load align=4 (i32.add (local.get $o1) (local.get $c))))
        (local.set $acc1 (f32x4.add (f32x4.mul (local.get $t) (local.get $t)) (local.get $acc1)))
        (local.set $t (v128.load align=4 (i32.add (local.get $o2) (local.get $c))))
        (local.set $acc2 (f32x4.add (f32x4.mul (local.get $t) (local.get $t)) (local.get $acc2)))
        (local.set $t (v128.load align=4 (i32.add (local.get $o3) (local.get $c))))
        (local.set $acc3 (f32x4.add (f32x4.mul (local.get $t) (local.get $t)) (local.get $acc3)))
        (local.set $t (v128.load align=4 (i32.add (local.get $o4) (local.get $c))))
        (local.set $acc4 (f32x4.add (f32x4.mul (local.get $t) (local.get $t)) (local.get $acc4)))
        (local.set $t (v128.load align=4 (i32.add (local.get $o5) (local.get $c))))
        (local.set $acc5 (f32x4.add (f32x4.mul (local.get $t) (local.get $t)) (local.get $acc5)))
        (local.set $t (v128.load align=4 (i32.add (local.get $o6) (local.get $c))))
        (local.set $acc6 (f32x4.add (f32x4.mul (local.get $t) (local.get $t)) (local.get $acc6)))
        (local.set $t (v128.load align=4 (i32.add (local.get $o7) (local.get $c))))
        (local.set $acc7 (f32x4.add (f32x4.mul (local.get $t) (local.get $t)) (local.get $acc7)))
        (local.set $c (i32.add (local.get $c) (i32.const 16)))
        (br $round)))

    ;; tail: the last 1..3 dims into lanes 0..2 of zeroed vectors, one multiply-add
    (block $noTail
      (br_if $noTail (i32.ge_u (local.get $c) (local.get $dimBytes)))
      ;; lane 0: dim c
      (local.set $tail0 (v128.load32_zero align=4 (i32.add (local.get $o0) (local.get $c))))
      (local.set $tail1 (v128.load32_zero align=4 (i32.add (local.get $o1) (local.get $c))))
      (local.set $tail2 (v128.load32_zero align=4 (i32.add (local.get $o2) (local.get $c))))
      (local.set $tail3 (v128.load32_zero align=4 (i32.add (local.get $o3) (local.get $c))))
      (local.set $tail4 (v128.load32_zero align=4 (i32.add (local.get $o4) (local.get $c))))
      (local.set $tail5 (v128.load32_zero align=4 (i32.add (local.get $o5) (local.get $c))))
      (local.set $tail6 (v128.load32_zero align=4 (i32.add (local.get $o6) (local.get $c))))
      (local.set $tail7 (v128.load32_zero align=4 (i32.add (local.get $o7) (local.get $c))))
      (block $loaded
        ;; lane 1: dim c+1, if c + 4 < dimBytes
        (br_if $loaded (i32.ge_u (i32.add (local.get $c) (i32.const 4)) (local.get $dimBytes)))
        (local.set $tail0 (v128.load32_lane align=4 1 (i32.add (i32.add (local.get $o0) (local.get $c)) (i32.const 4)) (local.get $tail0)))
        (local.set $tail1 (v128.load32_lane align=4 1 (i32.add (i32.add (local.get $o1) (local.get $c)) (i32.const 4)) (local.get $tail1)))
        (local.set $tail2 (v128.load32_lane align=4 1 (i32.add (i32.add (local.get $o2) (local.get $c)) (i32.const 4)) (local.get $tail2)))
        (local.set $tail3 (v128.load32_lane align=4 1 (i32.add (i32.add (local.get $o3) (local.get $c)) (i32.const 4)) (local.get $tail3)))
        (local.set $tail4 (v128.load32_lane align=4 1 (i32.add (i32.add (local.get $o4) (local.get $c)) (i32.const 4)) (local.get $tail4)))
        (local.set $tail5 (v128.load32_lane align=4 1 (i32.add (i32.add (local.get $o5) (local.get $c)) (i32.const 4)) (local.get $tail5)))
        (local.set $tail6 (v128.load32_lane align=4 1 (i32.add (i32.add (local.get $o6) (local.get $c)) (i32.const 4)) (local.get $tail6)))
        (local.set $tail7 (v128.load32_lane align=4 1 (i32.add (i32.add (local.get $o7) (local.get $c)) (i32.const 4)) (local.get $tail7)))
        ;; lane 2: dim c+2, if c + 8 < dimBytes
        (br_if $loaded (i32.ge_u (i32.add (local.get $c) (i32.const 8)) (local.get $dimBytes)))
        (local.set $tail0 (v128.load32_lane align=4 2 (i32.add (i32.add (local.get $o0) (local.get $c)) (i32.const 8)) (local.get $tail0)))
        (local.set $tail1 (v128.load32_lane align=4 2 (i32.add (i32.add (local.get $o1) (local.get $c)) (i32.const 8)) (local.get $tail1)))
        (local.set $tail2 (v128.load32_lane align=4 2 (i32.add (i32.add (local.get $o2) (local.get $c)) (i32.const 8)) (local.get $tail2)))
        (local.set $tail3 (v128.load32_lane align=4 2 (i32.add (i32.add (local.get $o3) (local.get $c)) (i32.const 8)) (local.get $tail3)))
        (local.set $tail4 (v128.load32_lane align=4 2 (i32.add (i32.add (local.get $o4) (local.get $c)) (i32.const 8)) (local.get $tail4)))
        (local.set $tail5 (v128.load32_lane align=4 2 (i32.add (i32.add (local.get $o5) (local.get $c)) (i32.const 8)) (local.get $tail5)))
        (local.set $tail6 (v128.load32_lane align=4 2 (i32.add (i32.add (local.get $o6) (local.get $c)) (i32.const 8)) (local.get $tail6)))
        (local.set $tail7 (v128.load32_lane align=4 2 (i32.add (i32.add (local.get $o7) (local.get $c)) (i32.const 8)) (local.get $tail7))))
      (local.set $t (local.get $tail0))
      (local.set $acc0 (f32x4.add (f32x4.mul (local.get $t) (local.get $t)) (local.get $acc0)))
      (local.set $t (local.get $tail1))
      (local.set $acc1 (f32x4.add (f32x4.mul (local.get $t) (local.get $t)) (local.get $acc1)))
      (local.set $t (local.get $tail2))
      (local.set $acc2 (f32x4.add (f32x4.mul (local.get $t) (local.get $t)) (local.get $acc2)))
      (local.set $t (local.get $tail3))
      (local.set $acc3 (f32x4.add (f32x4.mul (local.get $t) (local.get $t)) (local.get $acc3)))
      (local.set $t (local.get $tail4))
      (local.set $acc4 (f32x4.add (f32x4.mul (local.get $t) (local.get $t)) (local.get $acc4)))
      (local.set $t (local.get $tail5))
      (local.set $acc5 (f32x4.add (f32x4.mul (local.get $t) (local.get $t)) (local.get $acc5)))
      (local.set $t (local.get $tail6))
      (local.set $acc6 (f32x4.add (f32x4.mul (local.get $t) (local.get $t)) (local.get $acc6)))
      (local.set $t (local.get $tail7))
      (local.set $acc7 (f32x4.add (f32x4.mul (local.get $t) (local.get $t)) (local.get $acc7))))

    ;; results: (s0 + s1) + (s2 + s3) per row, as in dots8f
    (local.set $x (f32x4.add
      (i8x16.shuffle 0 1 2 3 16 17 18 19 8 9 10 11 24 25 26 27 (local.get $acc0) (local.get $acc1))
      (i8x16.shuffle 4 5 6 7 20 21 22 23 12 13 14 15 28 29 30 31 (local.get $acc0) (local.get $acc1))))
    (local.set $t (f32x4.add
      (i8x16.shuffle 0 1 2 3 16 17 18 19 8 9 10 11 24 25 26 27 (local.get $acc2) (local.get $acc3))
      (i8x16.shuffle 4 5 6 7 20 21 22 23 12 13 14 15 28 29 30 31 (local.get $acc2) (local.get $acc3))))
    (v128.store align=4 (local.get $out) (f32x4.add
      (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $x) (local.get $t))
      (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $x) (local.get $t))))
    (local.set $x (f32x4.add
      (i8x16.shuffle 0 1 2 3 16 17 18 19 8 9 10 11 24 25 26 27 (local.get $acc4) (local.get $acc5))
      (i8x16.shuffle 4 5 6 7 20 21 22 23 12 13 14 15 28 29 30 31 (local.get $acc4) (local.get $acc5))))
    (local.set $t (f32x4.add
      (i8x16.shuffle 0 1 2 3 16 17 18 19 8 9 10 11 24 25 26 27 (local.get $acc6) (local.get $acc7))
      (i8x16.shuffle 4 5 6 7 20 21 22 23 12 13 14 15 28 29 30 31 (local.get $acc6) (local.get $acc7))))
    (v128.store offset=16 align=4 (local.get $out) (f32x4.add
      (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $x) (local.get $t))
      (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $x) (local.get $t)))))

  ;; ---------------------------------------------------------------------------------------------------------
  ;; dots4f: dots8f over four rows (the last 1..4 candidates of a shortlist)
  (func $dots4f (export "dots4f")
    (param $q i32) (param $o0 i32) (param $o1 i32) (param $o2 i32) (param $o3 i32) (param $dimBytes i32) (param $out i32)
    (local $c i32)
    (local $x v128) (local $t v128)
    (local $acc0 v128) (local $acc1 v128) (local $acc2 v128) (local $acc3 v128)
    (local $tail0 v128) (local $tail1 v128) (local $tail2 v128) (local $tail3 v128)

    (block $done
      (loop $round
        (br_if $done (i32.gt_u (i32.add (local.get $c) (i32.const 16)) (local.get $dimBytes)))
        (local.set $x (v128.load align=4 (i32.add (local.get $q) (local.get $c))))
        (local.set $acc0 (f32x4.add (f32x4.mul (v128.load align=4 (i32.add (local.get $o0) (local.get $c))) (local.get $x)) (local.get $acc0)))
        (local.set $acc1 (f32x4.add (f32x4.mul (v128.load align=4 (i32.add (local.get $o1) (local.get $c))) (local.get $x)) (local.get $acc1)))
        (local.set $acc2 (f32x4.add (f32x4.mul (v128.load align=4 (i32.add (local.get $o2) (local.get $c))) (local.get $x)) (local.get $acc2)))
        (local.set $acc3 (f32x4.add (f32x4.mul (v128.load align=4 (i32.add (local.get $o3) (local.get $c))) (local.get $x)) (local.get $acc3)))
        (local.set $c (i32.add (local.get $c) (i32.const 16)))
        (br $round)))

    (block $noTail
      (br_if $noTail (i32.ge_u (local.get $c) (local.get $dimBytes)))
      (local.set $x (v128.load32_zero align=4 (i32.add (local.get $q) (local.get $c))))
      (local.set $tail0 (v128.load32_zero align=4 (i32.add (local.get $o0) (local.get $c))))
      (local.set $tail1 (v128.load32_zero align=4 (i32.add (local.get $o1) (local.get $c))))
      (local.set $tail2 (v128.load32_zero align=4 (i32.add (local.get $o2) (local.get $c))))
      (local.set $tail3 (v128.load32_zero align=4 (i32.add (local.get $o3) (local.get $c))))
      (block $loaded
        (br_if $loaded (i32.ge_u (i32.add (local.get $c) (i32.const 4)) (local.get $dimBytes)))
        (local.set $x (v128.load32_lane align=4 1 (i32.add (i32.add (local.get $q) (local.get $c)) (i32.const 4)) (local.get $x)))
        (local.set $tail0 (v128.load32_lane align=4 1 (i32.add (i32.add (local.get $o0) (local.get $c)) (i32.const 4)) (local.get $tail0)))
        (local.set $tail1 (v128.load32_lane align=4 1 (i32.add (i32.add (local.get $o1) (local.get $c)) (i32.const 4)) (local.get $tail1)))
        (local.set $tail2 (v128.load32_lane align=4 1 (i32.add (i32.add (local.get $o2) (local.get $c)) (i32.const 4)) (local.get $tail2)))
        (local.set $tail3 (v128.load32_lane align=4 1 (i32.add (i32.add (local.get $o3) (local.get $c)) (i32.const 4)) (local.get $tail3)))
        (br_if $loaded (i32.ge_u (i32.add (local.get $c) (i32.const 8)) (local.get $dimBytes)))
        (local.set $x (v128.load32_lane align=4 2 (i32.add (i32.add (local.get $q) (local.get $c)) (i32.const 8)) (local.get $x)))
        (local.set $tail0 (v128.load32_lane align=4 2 (i32.add (i32.add (local.get $o0) (local.get $c)) (i32.const 8)) (local.get $tail0)))
        (local.set $tail1 (v128.load32_lane align=4 2 (i32.add (i32.add (local.get $o1) (local.get $c)) (i32.const 8)) (local.get $tail1)))
        (local.set $tail2 (v128.load32_lane align=4 2 (i32.add (i32.add (local.get $o2) (local.get $c)) (i32.const 8)) (local.get $tail2)))
        (local.set $tail3 (v128.load32_lane align=4 2 (i32.add (i32.add (local.get $o3) (local.get $c)) (i32.const 8)) (local.get $tail3))))
      (local.set $acc0 (f32x4.add (f32x4.mul (local.get $tail0) (local.get $x)) (local.get $acc0)))
      (local.set $acc1 (f32x4.add (f32x4.mul (local.get $tail1) (local.get $x)) (local.get $acc1)))
      (local.set $acc2 (f32x4.add (f32x4.mul (local.get $tail2) (local.get $x)) (local.get $acc2)))
      (local.set $acc3 (f32x4.add (f32x4.mul (local.get $tail3) (local.get $x)) (local.get $acc3))))

    (local.set $x (f32x4.add
      (i8x16.shuffle 0 1 2 3 16 17 18 19 8 9 10 11 24 25 26 27 (local.get $acc0) (local.get $acc1))
      (i8x16.shuffle 4 5 6 7 20 21 22 23 12 13 14 15 28 29 30 31 (local.get $acc0) (local.get $acc1))))
    (local.set $t (f32x4.add
      (i8x16.shuffle 0 1 2 3 16 17 18 19 8 9 10 11 24 25 26 27 (local.get $acc2) (local.get $acc3))
      (i8x16.shuffle 4 5 6 7 20 21 22 23 12 13 14 15 28 29 30 31 (local.get $acc2) (local.get $acc3))))
    (v128.store align=4 (local.get $out) (f32x4.add
      (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $x) (local.get $t))
      (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $x) (local.get $t)))))

  ;; ---------------------------------------------------------------------------------------------------------
  ;; norms4f: norms8f over four rows (also the query's own squared norm: q passed as all four rows)
  (func $norms4f (export "norms4f")
    (param $q i32) (param $o0 i32) (param $o1 i32) (param $o2 i32) (param $o3 i32) (param $dimBytes i32) (param $out i32)
    (local $c i32)
    (local $x v128) (local $t v128)
    (local $acc0 v128) (local $acc1 v128) (local $acc2 v128) (local $acc3 v128)
    (local $tail0 v128) (local $tail1 v128) (local $tail2 v128) (local $tail3 v128)

    (block $done
      (loop $round
        (br_if $done (i32.gt_u (i32.add (local.get $c) (i32.const 16)) (local.get $dimBytes)))
        (local.set $t (v128.load align=4 (i32.add (local.get $o0) (local.get $c))))
        (local.set $acc0 (f32x4.add (f32x4.mul (local.get $t) (local.get $t)) (local.get $acc0)))
        (local.set $t (v128.load align=4 (i32.add (local.get $o1) (local.get $c))))
        (local.set $acc1 (f32x4.add (f32x4.mul (local.get $t) (local.get $t)) (local.get $acc1)))
        (local.set $t (v128.load align=4 (i32.add (local.get $o2) (local.get $c))))
        (local.set $acc2 (f32x4.add (f32x4.mul (local.get $t) (local.get $t)) (local.get $acc2)))
        (local.set $t (v128.load align=4 (i32.add (local.get $o3) (local.get $c))))
        (local.set $acc3 (f32x4.add (f32x4.mul (local.get $t) (local.get $t)) (local.get $acc3)))
        (local.set $c (i32.add (local.get $c) (i32.const 16)))
        (br $round)))

    (block $noTail
      (br_if $noTail (i32.ge_u (local.get $c) (local.get $dimBytes)))
      (local.set $tail0 (v128.load32_zero align=4 (i32.add (local.get $o0) (local.get $c))))
      (local.set $tail1 (v128.load32_zero align=4 (i32.add (local.get $o1) (local.get $c))))
      (local.set $tail2 (v128.load32_zero align=4 (i32.add (local.get $o2) (local.get $c))))
      (local.set $tail3 (v128.load32_zero align=4 (i32.add (local.get $o3) (local.get $c))))
      (block $loaded
        (br_if $loaded (i32.ge_u (i32.add (local.get $c) (i32.const 4)) (local.get $dimBytes)))
        (local.set $tail0 (v128.load32_lane align=4 1 (i32.add (i32.add (local.get $o0) (local.get $c)) (i32.const 4)) (local.get $tail0)))
        (local.set $tail1 (v128.load32_lane align=4 1 (i32.add (i32.add (local.get $o1) (local.get $c)) (i32.const 4)) (local.get $tail1)))
        (local.set $tail2 (v128.load32_lane align=4 1 (i32.add (i32.add (local.get $o2) (local.get $c)) (i32.const 4)) (local.get $tail2)))
        (local.set $tail3 (v128.load32_lane align=4 1 (i32.add (i32.add (local.get $o3) (local.get $c)) (i32.const 4)) (local.get $tail3)))
        (br_if $loaded (i32.ge_u (i32.add (local.get $c) (i32.const 8)) (local.get $dimBytes)))
        (local.set $tail0 (v128.load32_lane align=4 2 (i32.add (i32.add (local.get $o0) (local.get $c)) (i32.const 8)) (local.get $tail0)))
        (local.set $tail1 (v128.load32_lane align=4 2 (i32.add (i32.add (local.get $o1) (local.get $c)) (i32.const 8)) (local.get $tail1)))
        (local.set $tail2 (v128.load32_lane align=4 2 (i32.add (i32.add (local.get $o2) (local.get $c)) (i32.const 8)) (local.get $tail2)))
        (local.set $tail3 (v128.load32_lane align=4 2 (i32.add (i32.add (local.get $o3) (local.get $c)) (i32.const 8)) (local.get $tail3))))
      (local.set $t (local.get $tail0))
      (local.set $acc0 (f32x4.add (f32x4.mul (local.get $t) (local.get $t)) (local.get $acc0)))
      (local.set $t (local.get $tail1))
      (local.set $acc1 (f32x4.add (f32x4.mul (local.get $t) (local.get $t)) (local.get $acc1)))
      (local.set $t (local.get $tail2))
      (local.set $acc2 (f32x4.add (f32x4.mul (local.get $t) (local.get $t)) (local.get $acc2)))
      (local.set $t (local.get $tail3))
      (local.set $acc3 (f32x4.add (f32x4.mul (local.get $t) (local.get $t)) (local.get $acc3))))

    (local.set $x (f32x4.add
      (i8x16.shuffle 0 1 2 3 16 17 18 19 8 9 10 11 24 25 26 27 (local.get $acc0) (local.get $acc1))
      (i8x16.shuffle 4 5 6 7 20 21 22 23 12 13 14 15 28 29 30 31 (local.get $acc0) (local.get $acc1))))
    (local.set $t (f32x4.add
      (i8x16.shuffle 0 1 2 3 16 17 18 19 8 9 10 11 24 25 26 27 (local.get $acc2) (local.get $acc3))
      (i8x16.shuffle 4 5 6 7 20 21 22 23 12 13 14 15 28 29 30 31 (local.get $acc2) (local.get $acc3))))
    (v128.store align=4 (local.get $out) (f32x4.add
      (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $x) (local.get $t))
      (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $x) (local.get $t)))))
)
