// Scalar reference Winograd convolution: the algorithm of the fast 3x3 convs, one tile at a time,
// in plain loops, for reading and stepping through in a debugger. It is NOT in the kernel table
// (core/kernels/kernels.cpp): the table's scalar conv is the direct sum of conv_ref.cpp. The fast
// version, the one that runs, is core/kernels/simd/winograd_simd.inc (forward, dX) and
// winograd_dw_simd.inc (dW); tests/test_winograd_ref.cpp checks this file against conv_ref.cpp
// and against those SIMD kernels.
//
// Only 3x3 filters, stride 1, pad 1 ("same": OH = H, OW = W), any N, Cin, Cout, H, W.
// Shapes: x (N, Cin, H, W), w (Cout, Cin, 3, 3), b (Cout) or null, y and dy (N, Cout, H, W).
// As everywhere in this code the conv is a correlation: y[n,o,i,j] = b[o] + sum_{c,p,q}
// w[o,c,p,q] x[n, c, i + p - 1, j + q - 1]   (x = 0 outside the image).
//
// Winograd F(m x m, 3x3) (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks",
// 2016) computes an m x m block Y of outputs of one 3x3 filter g from the (m + 2) x (m + 2) input
// d under it:
//   Y = A^T [ (G g G^T) (.) (B^T d B) ] A          (.) = element by element
// and, summed over the input channels c, the transforms of the sum move out of it:
//   Y[o] = A^T [ sum_c U[o][c] (.) V[c] ] A,   U[o][c] = G g_oc G^T,   V[c] = B^T d_c B
//
// forward and dX: F(4x4, 3x3), 6x6 input tile -> 4x4 output tile, 36 products instead of 4x4x9 =
//   144. The matrices interpolate at the points 0, 1, -1, 2, -2 and infinity: the same matrices,
//   rows in the same order, as winograd_simd.inc (its comment block, winograd_bt, winograd_g,
//   winograd_at), so the two compute the same sums and differ only in rounding (and in the SIMD
//   filter transform being done in double).
// dX of a same conv is itself a same conv, of dy with the filters flipped in space and Cin, Cout
//   swapped (conv_simd.inc, "The backward data pass"):
//     dx[n,c,i,j] += sum_{o,p,q} dy[n, o, i + p - 1, j + q - 1] w[o, c, 2 - p, 2 - q]
//   so it is the forward's tile loop with g[p][q] = w[o, c, 2 - p, 2 - q], accumulated.
// dW: the adjoint of F(4x4, 3x3), as winograd_dw_simd.inc:
//   Y = A^T [ (G g G^T) (.) V ] A is linear in g, so for a tile with output gradient dy (4x4)
//     dL/dg = G^T [ (A dy A^T) (.) V ] G
//   and summed over every tile of every image, the transforms move out of the sum again:
//     S[o][c] = sum_tiles (A dy_o A^T) (.) V[c]   (6x6),    dw[o, c] += G^T S[o][c] G   (3x3)
//
// Tiles: tile (ty, tx) of an m x m tiling covers outputs [m ty, m ty + m) x [m tx, m tx + m) and
// reads inputs [m ty - 1, m ty + m + 1) x [m tx - 1, m tx + m + 1); ceil(H / m) x ceil(W / m)
// tiles. Inputs outside the image are 0; outputs outside it are computed and thrown away (forward,
// dX), or have dy = 0 (dW), so every H, W works, a 1x1 image included (one tile).
// Arithmetic in float, products summed over channels and tiles in plain loop order.
#include <algorithm>
#include <vector>

#include "core/error.h"
#include "core/kernels/ref/ref.h"

namespace fw::ref {

namespace {

// ---- F(4x4, 3x3) ------------------------------------------------------------------------------
// Rows of B^T: d -> B^T d (6 from 6); rows of G: g -> G g (6 from 3); rows of A^T: 6 -> 4.
const float BT4[6][6] = {{4, 0, -5, 0, 1, 0},  //
                         {0, -4, -4, 1, 1, 0},
                         {0, 4, -4, -1, 1, 0},
                         {0, -2, -1, 2, 1, 0},
                         {0, 2, -1, -2, 1, 0},
                         {0, 4, 0, -5, 0, 1}};
const float G4[6][3] = {{1.0f / 4, 0, 0},
                        {-1.0f / 6, -1.0f / 6, -1.0f / 6},
                        {-1.0f / 6, 1.0f / 6, -1.0f / 6},
                        {1.0f / 24, 1.0f / 12, 1.0f / 6},
                        {1.0f / 24, -1.0f / 12, 1.0f / 6},
                        {0, 0, 1}};
const float AT4[4][6] = {{1, 1, 1, 1, 1, 0},  //
                         {0, 1, -1, 2, -2, 0},
                         {0, 1, 1, 4, 4, 0},
                         {0, 1, -1, 8, -8, 1}};

// An R x C matrix, as a value (for the per-filter and per-channel tiles kept in vectors).
template <int R, int C>
struct Mat {
    float a[R][C] = {};
};

// out (R x C) = P X Q^T, for P (R x K), X (K x L), Q (C x L):  B^T d B, G g G^T, A^T M A.
template <int R, int K, int L, int C>
void sandwich(float out[R][C], const float P[R][K], const float X[K][L], const float Q[C][L]) {
    for (int r = 0; r < R; ++r)
        for (int c = 0; c < C; ++c) {
            float acc = 0.0f;
            for (int k = 0; k < K; ++k)
                for (int l = 0; l < L; ++l) acc += P[r][k] * X[k][l] * Q[c][l];  // (P X Q^T)[r][c]
            out[r][c] = acc;
        }
}

// out (R x C) = P^T X Q, for P (K x R), X (K x L), Q (L x C):  the adjoints A dy A^T, G^T S G.
template <int R, int K, int L, int C>
void sandwich_t(float out[R][C], const float P[K][R], const float X[K][L], const float Q[L][C]) {
    for (int r = 0; r < R; ++r)
        for (int c = 0; c < C; ++c) {
            float acc = 0.0f;
            for (int k = 0; k < K; ++k)
                for (int l = 0; l < L; ++l) acc += P[k][r] * X[k][l] * Q[l][c];  // (P^T X Q)[r][c]
            out[r][c] = acc;
        }
}

// d[r][s] = img[top + r, left + s] for an R x C patch of an H x W image, 0 outside it.
template <int R, int C>
void load_patch(float d[R][C], const float* img, int64_t H, int64_t W, int64_t top, int64_t left) {
    for (int r = 0; r < R; ++r)
        for (int s = 0; s < C; ++s) {
            const int64_t i = top + r, j = left + s;
            d[r][s] = (i >= 0 && i < H && j >= 0 && j < W) ? img[i * W + j] : 0.0f;
        }
}

void check_shape(const char* what, const ConvShape& s) {
    if (s.KH != 3 || s.KW != 3 || s.stride != 1 || s.pad != 1 || s.OH != s.H || s.OW != s.W)
        fail("winograd_ref ", what, ": only 3x3 stride 1 pad 1 convs, got ", s.KH, "x", s.KW, " stride ", s.stride,
             " pad ", s.pad, " on ", s.H, "x", s.W, " -> ", s.OH, "x", s.OW);
}

// out (N, M, H, W) (=, or += when accumulate) the 3x3 pad 1 conv of in (N, K, H, W) [+ bias (M)],
// by F(4x4, 3x3). w is (Cout, Cin, 3, 3). Not flipped (forward): M = Cout, K = Cin,
// g_mk = w[m, k]. Flipped (dX): M = Cin, K = Cout, g_mk[p][q] = w[k, m, 2 - p, 2 - q].
// (The SIMD twin is winograd_conv in winograd_simd.inc, same arguments.)
void winograd_f4_conv(float* out, bool accumulate, const float* in, const float* w, bool flipped, const float* bias,
                      int64_t N, int64_t K, int64_t H, int64_t W, int64_t M) {
    // U[m][k] = G g_mk G^T (6x6), every filter once
    std::vector<Mat<6, 6>> U(M * K);
    for (int64_t m = 0; m < M; ++m)
        for (int64_t k = 0; k < K; ++k) {
            float g[3][3];
            for (int p = 0; p < 3; ++p)
                for (int q = 0; q < 3; ++q)
                    g[p][q] = flipped ? w[((k * M + m) * 3 + 2 - p) * 3 + 2 - q] : w[((m * K + k) * 3 + p) * 3 + q];
            sandwich<6, 3, 3, 6>(U[m * K + k].a, G4, g, G4);
        }
    const int64_t TH = (H + 3) / 4, TW = (W + 3) / 4;  // tiles down and across
    std::vector<Mat<6, 6>> V(K);                        // V[k] = B^T d_k B of the current tile
    for (int64_t n = 0; n < N; ++n)
        for (int64_t ty = 0; ty < TH; ++ty)
            for (int64_t tx = 0; tx < TW; ++tx) {
                // V[k] = B^T d_k B, d_k = in[n, k, 4 ty - 1 .. 4 ty + 4, 4 tx - 1 .. 4 tx + 4] (6x6)
                for (int64_t k = 0; k < K; ++k) {
                    float d[6][6];
                    load_patch<6, 6>(d, in + (n * K + k) * H * W, H, W, 4 * ty - 1, 4 * tx - 1);
                    sandwich<6, 6, 6, 6>(V[k].a, BT4, d, BT4);
                }
                for (int64_t m = 0; m < M; ++m) {
                    // Mt = sum_k U[m][k] (.) V[k]   (6x6, the 36 products of the tile, summed over k)
                    float Mt[6][6] = {};
                    for (int64_t k = 0; k < K; ++k)
                        for (int a = 0; a < 6; ++a)
                            for (int b = 0; b < 6; ++b) Mt[a][b] += U[m * K + k].a[a][b] * V[k].a[a][b];
                    // Y = A^T Mt A   (4x4), stored where it lies inside the image
                    float Y[4][4];
                    sandwich<4, 6, 6, 4>(Y, AT4, Mt, AT4);
                    for (int i = 0; i < 4 && 4 * ty + i < H; ++i)
                        for (int j = 0; j < 4 && 4 * tx + j < W; ++j) {
                            float& o = out[((n * M + m) * H + 4 * ty + i) * W + 4 * tx + j];
                            const float v = Y[i][j] + (bias ? bias[m] : 0.0f);
                            o = accumulate ? o + v : v;
                        }
                }
            }
}

}  // namespace

// y = conv(x, w) + b by F(4x4, 3x3). Overwrites y, like conv2d_forward.
void winograd_conv2d_forward(float* y, const float* x, const float* w, const float* b, const ConvShape& s) {
    check_shape("forward", s);
    winograd_f4_conv(y, false, x, w, false, b, s.N, s.Cin, s.H, s.W, s.Cout);
}

// dx += the conv of dy with the flipped filters (Cin, Cout swapped), by F(4x4, 3x3).
void winograd_conv2d_backward_data(float* dx, const float* dy, const float* w, const ConvShape& s) {
    check_shape("dX", s);
    winograd_f4_conv(dx, true, dy, w, true, nullptr, s.N, s.Cout, s.H, s.W, s.Cin);
}

// dw += dL/dw by the adjoint of F(4x4, 3x3):  dw[o, c] += G^T S[o][c] G,
// S[o][c] = sum over images n and tiles t of (A dy_{n,o,t} A^T) (.) (B^T d_{n,c,t} B).
void winograd_conv2d_backward_weights(float* dw, const float* dy, const float* x, const ConvShape& s) {
    check_shape("dW", s);
    const int64_t Cin = s.Cin, Cout = s.Cout, H = s.H, W = s.W;
    const int64_t TH = (H + 3) / 4, TW = (W + 3) / 4;  // 4x4 output tiles down and across
    std::vector<Mat<6, 6>> S(Cout * Cin);             // S[o][c] (6x6), from 0
    std::vector<Mat<6, 6>> V(Cin), DY(Cout);          // of the current tile
    for (int64_t n = 0; n < s.N; ++n)
        for (int64_t ty = 0; ty < TH; ++ty)
            for (int64_t tx = 0; tx < TW; ++tx) {
                // V[c] = B^T d_c B,  d_c = x[n, c, 4 ty - 1 .. 4 ty + 4, 4 tx - 1 .. 4 tx + 4]   (6x6)
                for (int64_t c = 0; c < Cin; ++c) {
                    float d[6][6];
                    load_patch<6, 6>(d, x + (n * Cin + c) * H * W, H, W, 4 * ty - 1, 4 * tx - 1);
                    sandwich<6, 6, 6, 6>(V[c].a, BT4, d, BT4);
                }
                // DY[o] = A dy_o A^T,  dy_o = dy[n, o, 4 ty .. 4 ty + 3, 4 tx .. 4 tx + 3]   (4x4 -> 6x6;
                // outputs past the image have no gradient: 0)
                for (int64_t o = 0; o < Cout; ++o) {
                    float g[4][4];
                    load_patch<4, 4>(g, dy + (n * Cout + o) * H * W, H, W, 4 * ty, 4 * tx);
                    sandwich_t<6, 4, 4, 6>(DY[o].a, AT4, g, AT4);
                }
                // S[o][c] += DY[o] (.) V[c]
                for (int64_t o = 0; o < Cout; ++o)
                    for (int64_t c = 0; c < Cin; ++c)
                        for (int a = 0; a < 6; ++a)
                            for (int b = 0; b < 6; ++b) S[o * Cin + c].a[a][b] += DY[o].a[a][b] * V[c].a[a][b];
            }
    // dw[o, c] += G^T S[o][c] G   (3x3 from 6x6)
    for (int64_t o = 0; o < Cout; ++o)
        for (int64_t c = 0; c < Cin; ++c) {
            float g[3][3];
            sandwich_t<3, 6, 6, 3>(g, G4, S[o * Cin + c].a, G4);
            for (int p = 0; p < 3; ++p)
                for (int q = 0; q < 3; ++q) dw[((o * Cin + c) * 3 + p) * 3 + q] += g[p][q];
        }
}

// The backward with conv2d_backward's signature: each gradient ACCUMULATES (dx is zeroed first
// for GradWrite::Overwrite), null = not needed.
// db[o] += sum_{n,i,j} dy[n, o, i, j] is no Winograd (as in conv_ref.cpp).
void winograd_conv2d_backward(float* dx, float* dw, float* db, const float* dy, const float* x, const float* w,
                              const ConvShape& s, GradWrite dx_write) {
    check_shape("backward", s);
    if (dx && dx_write == GradWrite::Overwrite) std::fill(dx, dx + s.N * s.Cin * s.H * s.W, 0.0f);
    if (db)
        for (int64_t n = 0; n < s.N; ++n)
            for (int64_t o = 0; o < s.Cout; ++o)
                for (int64_t i = 0; i < s.H * s.W; ++i) db[o] += dy[(n * s.Cout + o) * s.H * s.W + i];
    if (dx) winograd_conv2d_backward_data(dx, dy, w, s);
    if (dw) winograd_conv2d_backward_weights(dw, dy, x, s);
}

}  // namespace fw::ref
