;; Cohort's wasm SIMD kernels for tfjs-backend-wasm's heap (node-agent/train/wasm-simd.ts loads them; the binary
;; in wasm-simd-binary.ts is generated from this file by `npm run build:wasm`, and a test checks that it matches).
(module
  (import "env" "memory" (memory 1))

  ;; maxPool2x2Grad(x, g, dx, n, h, w, c, mask, sums): dL/dx of a 2x2 stride-2 'valid' max pool of NHWC x [n,h,w,c]
  ;; (c a multiple of 4) given g = dL/dy [n,h/2,w/2,c], written to all of dx; 4 channels per step. The tie rule of
  ;; max-pool-grad.ts: the running max starts at FLT_MIN, the last position >= it wins. A window with no value >= FLT_MIN
  ;; passes nothing here (the caller applies max-pool-grad.ts's rule for offset 0). mask != 0: a window whose max is not
  ;; > 0 passes nothing (the relu x is the output of). sums != 0: each channel's passed values are added to sums[c] (f32).
  ;; Pointers are byte offsets into the imported memory (tfjs-backend-wasm's heap).
  (func (export "maxPool2x2Grad")
    (param $x i32) (param $g i32) (param $dx i32) (param $n i32) (param $h i32) (param $w i32) (param $c i32)
    (param $mask i32) (param $sums i32)
    (local $oh i32) (local $ow i32) (local $b i32) (local $i i32) (local $j i32) (local $chb i32)
    (local $cb i32) (local $row i32) (local $base i32) (local $px i32) (local $pd i32) (local $o i32)
    (local $v0 v128) (local $v1 v128) (local $v2 v128) (local $v3 v128) (local $m v128)
    (local $k0 v128) (local $k1 v128) (local $k2 v128) (local $k3 v128) (local $gv v128) (local $keep v128)
    (local $w0 v128) (local $w1 v128) (local $w2 v128) (local $w3 v128)
    (memory.fill (local.get $dx) (i32.const 0)
      (i32.shl (i32.mul (i32.mul (local.get $n) (local.get $h)) (i32.mul (local.get $w) (local.get $c))) (i32.const 2)))
    (local.set $oh (i32.shr_u (local.get $h) (i32.const 1)))
    (local.set $ow (i32.shr_u (local.get $w) (i32.const 1)))
    (local.set $cb (i32.shl (local.get $c) (i32.const 2)))
    (local.set $row (i32.mul (local.get $w) (local.get $cb)))
    ;; without the mask every winner is kept: keep = all ones; with it, keep = (max > 0)
    (local.set $keep (select (v128.const i32x4 0 0 0 0) (v128.const i32x4 -1 -1 -1 -1) (local.get $mask)))
    (local.set $o (local.get $g))
    (local.set $b (i32.const 0))
    (block $bdone (loop $bl
      (br_if $bdone (i32.ge_u (local.get $b) (local.get $n)))
      (local.set $i (i32.const 0))
      (block $idone (loop $il
        (br_if $idone (i32.ge_u (local.get $i) (local.get $oh)))
        (local.set $j (i32.const 0))
        (block $jdone (loop $jl
          (br_if $jdone (i32.ge_u (local.get $j) (local.get $ow)))
          ;; byte offset of the window's top-left: ((b*h + 2i)*w + 2j) * c * 4
          (local.set $base (i32.mul
            (i32.add (i32.mul (i32.add (i32.mul (local.get $b) (local.get $h)) (i32.shl (local.get $i) (i32.const 1))) (local.get $w))
                     (i32.shl (local.get $j) (i32.const 1)))
            (local.get $cb)))
          (local.set $chb (i32.const 0))
          (block $cdone (loop $cl
            (br_if $cdone (i32.ge_u (local.get $chb) (local.get $cb)))
            (local.set $px (i32.add (local.get $x) (i32.add (local.get $base) (local.get $chb))))
            (local.set $pd (i32.add (local.get $dx) (i32.add (local.get $base) (local.get $chb))))
            (local.set $v0 (v128.load align=4 (local.get $px)))
            (local.set $v1 (v128.load align=4 (i32.add (local.get $px) (local.get $cb))))
            (local.set $v2 (v128.load align=4 (i32.add (local.get $px) (local.get $row))))
            (local.set $v3 (v128.load align=4 (i32.add (local.get $px) (i32.add (local.get $row) (local.get $cb)))))
            ;; the running max starts at FLT_MIN; each position >= it takes over (the last one wins ties)
            (local.set $m (v128.const f32x4 0x1p-126 0x1p-126 0x1p-126 0x1p-126))
            (local.set $k0 (f32x4.ge (local.get $v0) (local.get $m)))
            (local.set $m (v128.bitselect (local.get $v0) (local.get $m) (local.get $k0)))
            (local.set $k1 (f32x4.ge (local.get $v1) (local.get $m)))
            (local.set $m (v128.bitselect (local.get $v1) (local.get $m) (local.get $k1)))
            (local.set $k2 (f32x4.ge (local.get $v2) (local.get $m)))
            (local.set $m (v128.bitselect (local.get $v2) (local.get $m) (local.get $k2)))
            (local.set $k3 (f32x4.ge (local.get $v3) (local.get $m)))
            (local.set $m (v128.bitselect (local.get $v3) (local.get $m) (local.get $k3)))
            ;; the winner is the last position whose test passed
            (local.set $w3 (local.get $k3))
            (local.set $w2 (v128.andnot (local.get $k2) (local.get $k3)))
            (local.set $w1 (v128.andnot (local.get $k1) (v128.or (local.get $k2) (local.get $k3))))
            (local.set $w0 (v128.andnot (local.get $k0) (v128.or (local.get $k1) (v128.or (local.get $k2) (local.get $k3)))))
            ;; masked: a window whose max (the winner's value) is not > 0 passes nothing
            (local.set $gv (v128.and (v128.load align=4 (local.get $o))
              (v128.or (local.get $keep) (f32x4.gt (local.get $m) (v128.const f32x4 0 0 0 0)))))
            (if (local.get $sums) (then
              (v128.store align=4 (i32.add (local.get $sums) (local.get $chb))
                (f32x4.add (v128.load align=4 (i32.add (local.get $sums) (local.get $chb)))
                  (v128.and (local.get $gv) (v128.or (v128.or (local.get $k0) (local.get $k1)) (v128.or (local.get $k2) (local.get $k3))))))))
            (v128.store align=4 (local.get $pd) (v128.and (local.get $gv) (local.get $w0)))
            (v128.store align=4 (i32.add (local.get $pd) (local.get $cb)) (v128.and (local.get $gv) (local.get $w1)))
            (v128.store align=4 (i32.add (local.get $pd) (local.get $row)) (v128.and (local.get $gv) (local.get $w2)))
            (v128.store align=4 (i32.add (local.get $pd) (i32.add (local.get $row) (local.get $cb))) (v128.and (local.get $gv) (local.get $w3)))
            (local.set $o (i32.add (local.get $o) (i32.const 16)))
            (local.set $chb (i32.add (local.get $chb) (i32.const 16)))
            (br $cl)))
          (local.set $j (i32.add (local.get $j) (i32.const 1)))
          (br $jl)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $il)))
      (local.set $b (i32.add (local.get $b) (i32.const 1)))
      (br $bl)))
  )

  ;; im2col(x, out, n, h, w, ci, kh, kw, oh, ow, top, left): out [kh*kw*ci, n*oh*ow] with
  ;; out[(a*kw+b)*ci+c][(m*oh+i)*ow+j] = x[m, i+a-top, j+b-left, c] (NHWC), 0 outside x: the patches of a stride-1 conv.
  (func (export "im2col")
    (param $x i32) (param $out i32) (param $n i32) (param $h i32) (param $w i32) (param $ci i32)
    (param $kh i32) (param $kw i32) (param $oh i32) (param $ow i32) (param $top i32) (param $left i32)
    (local $a i32) (local $b i32) (local $c i32) (local $m i32) (local $i i32) (local $j i32)
    (local $si i32) (local $sj i32) (local $rowOk i32) (local $ok i32) (local $src i32) (local $o i32)
    (local.set $o (local.get $out))
    (local.set $a (i32.const 0))
    (block $adone (loop $al
      (br_if $adone (i32.ge_u (local.get $a) (local.get $kh)))
      (local.set $b (i32.const 0))
      (block $bdone (loop $bl
        (br_if $bdone (i32.ge_u (local.get $b) (local.get $kw)))
        (local.set $c (i32.const 0))
        (block $cdone (loop $cl
          (br_if $cdone (i32.ge_u (local.get $c) (local.get $ci)))
          (local.set $m (i32.const 0))
          (block $mdone (loop $ml
            (br_if $mdone (i32.ge_u (local.get $m) (local.get $n)))
            (local.set $i (i32.const 0))
            (block $idone (loop $il
              (br_if $idone (i32.ge_u (local.get $i) (local.get $oh)))
              (local.set $si (i32.sub (i32.add (local.get $i) (local.get $a)) (local.get $top)))
              ;; 0 <= si < h, as one unsigned test
              (local.set $rowOk (i32.lt_u (local.get $si) (local.get $h)))
              (local.set $j (i32.const 0))
              (block $jdone (loop $jl
                (br_if $jdone (i32.ge_u (local.get $j) (local.get $ow)))
                (local.set $sj (i32.sub (i32.add (local.get $j) (local.get $b)) (local.get $left)))
                (local.set $ok (i32.and (local.get $rowOk) (i32.lt_u (local.get $sj) (local.get $w))))
                (local.set $src (i32.add (local.get $x) (i32.shl
                  (i32.add (i32.mul (i32.add (i32.mul (i32.add (i32.mul (local.get $m) (local.get $h)) (local.get $si)) (local.get $w))
                    (local.get $sj)) (local.get $ci)) (local.get $c))
                  (i32.const 2))))
                ;; outside x: read x's first value (always there) and write 0 instead
                (f32.store (local.get $o) (select
                  (f32.load (select (local.get $src) (local.get $x) (local.get $ok)))
                  (f32.const 0) (local.get $ok)))
                (local.set $o (i32.add (local.get $o) (i32.const 4)))
                (local.set $j (i32.add (local.get $j) (i32.const 1)))
                (br $jl)))
              (local.set $i (i32.add (local.get $i) (i32.const 1)))
              (br $il)))
            (local.set $m (i32.add (local.get $m) (i32.const 1)))
            (br $ml)))
          (local.set $c (i32.add (local.get $c) (i32.const 1)))
          (br $cl)))
        (local.set $b (i32.add (local.get $b) (i32.const 1)))
        (br $bl)))
      (local.set $a (i32.add (local.get $a) (i32.const 1)))
      (br $al)))
  )
)
