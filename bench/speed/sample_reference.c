// Reference for `tinygpt bench sample`: a plain C forward pass of the same
// llama-style shape (6 layers, d_model 288, 6 heads, SwiGLU d_ff 768, RMSNorm,
// RoPE, no bias, context 256, vocab 512), random weights, KV cache, greedy
// decoding, one token at a time. Written for tinygpt's benchmark notes; not
// part of the build.
//
//   cc -Ofast -march=native -fopenmp bench/speed/sample_reference.c -lm -o /tmp/sample_ref
//   OMP_NUM_THREADS=2 /tmp/sample_ref 256
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { L = 6, C = 288, H = 6, D = C / H, F = 768, T = 256, V = 512 };

static float *alloc_random(size_t n, unsigned *seed) {
    float *p = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) { *seed = *seed * 1664525u + 1013904223u; p[i] = ((*seed >> 8) / 16777216.0f - 0.5f) * 0.1f; }
    return p;
}

// out[n] = W[n][k] · x[k]
static void matvec(float *out, const float *w, const float *x, int n, int k) {
    #pragma omp parallel for
    for (int i = 0; i < n; i++) {
        float s = 0;
        for (int j = 0; j < k; j++) s += w[(size_t)i * k + j] * x[j];
        out[i] = s;
    }
}

static void rmsnorm(float *out, const float *x, const float *g) {
    float ss = 0;
    for (int i = 0; i < C; i++) ss += x[i] * x[i];
    float r = 1.0f / sqrtf(ss / C + 1e-5f);
    for (int i = 0; i < C; i++) out[i] = x[i] * r * g[i];
}

int main(int argc, char **argv) {
    int steps = argc > 1 ? atoi(argv[1]) : 256;
    unsigned seed = 1;
    float *emb = alloc_random((size_t)V * C, &seed), *head = alloc_random((size_t)V * C, &seed);
    float *wq[L], *wk[L], *wv[L], *wo[L], *w1[L], *w2[L], *w3[L], *g1[L], *g2[L];
    for (int l = 0; l < L; l++) {
        wq[l] = alloc_random(C * C, &seed); wk[l] = alloc_random(C * C, &seed); wv[l] = alloc_random(C * C, &seed);
        wo[l] = alloc_random(C * C, &seed); w1[l] = alloc_random(F * C, &seed); w2[l] = alloc_random(C * F, &seed);
        w3[l] = alloc_random(F * C, &seed);
        g1[l] = malloc(C * sizeof(float)); g2[l] = malloc(C * sizeof(float));
        for (int i = 0; i < C; i++) g1[l][i] = g2[l][i] = 1;
    }
    float *gf = malloc(C * sizeof(float));
    for (int i = 0; i < C; i++) gf[i] = 1;
    float *kc = calloc((size_t)L * T * C, sizeof(float)), *vc = calloc((size_t)L * T * C, sizeof(float));
    float x[C], xb[C], q[C], att[T], hb[F], hb2[F], logits[V], tmp[C];
    int token = 1;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int pos = 0; pos < steps && pos < T; pos++) {
        memcpy(x, emb + (size_t)token * C, sizeof x);
        for (int l = 0; l < L; l++) {
            rmsnorm(xb, x, g1[l]);
            float *k = kc + ((size_t)l * T + pos) * C, *v = vc + ((size_t)l * T + pos) * C;
            matvec(q, wq[l], xb, C, C); matvec(k, wk[l], xb, C, C); matvec(v, wv[l], xb, C, C);
            for (int i = 0; i < C; i += 2) {  // RoPE on interleaved pairs
                float angle = pos * powf(10000.0f, -(float)(i % D) / D), c = cosf(angle), s = sinf(angle);
                float a = q[i], b = q[i + 1]; q[i] = a * c - b * s; q[i + 1] = a * s + b * c;
                a = k[i]; b = k[i + 1]; k[i] = a * c - b * s; k[i + 1] = a * s + b * c;
            }
            #pragma omp parallel for private(att)
            for (int h = 0; h < H; h++) {
                float m = -INFINITY, sum = 0;
                for (int t = 0; t <= pos; t++) {
                    float s = 0;
                    for (int i = 0; i < D; i++) s += q[h * D + i] * kc[((size_t)l * T + t) * C + h * D + i];
                    att[t] = s / sqrtf(D);
                    if (att[t] > m) m = att[t];
                }
                for (int t = 0; t <= pos; t++) { att[t] = expf(att[t] - m); sum += att[t]; }
                for (int i = 0; i < D; i++) {
                    float o = 0;
                    for (int t = 0; t <= pos; t++) o += att[t] * vc[((size_t)l * T + t) * C + h * D + i];
                    xb[h * D + i] = o / sum;
                }
            }
            matvec(tmp, wo[l], xb, C, C);
            for (int i = 0; i < C; i++) x[i] += tmp[i];
            rmsnorm(xb, x, g2[l]);
            matvec(hb, w1[l], xb, F, C); matvec(hb2, w3[l], xb, F, C);
            for (int i = 0; i < F; i++) hb[i] = hb[i] / (1 + expf(-hb[i])) * hb2[i];
            matvec(tmp, w2[l], hb, C, F);
            for (int i = 0; i < C; i++) x[i] += tmp[i];
        }
        rmsnorm(xb, x, gf);
        matvec(logits, head, xb, V, C);
        int best = 0;
        for (int i = 1; i < V; i++) if (logits[i] > logits[best]) best = i;
        token = best;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double sec = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("C reference: %d tokens in %.3f s = %.1f tokens/s\n", steps, sec, steps / sec);
    return 0;
}
