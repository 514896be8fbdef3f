#include "core/op_table.h"

#include <cstring>

namespace fw {

// Notation: g = dL/dy (the upstream gradient), "sum_b" = summed over broadcast axes back to the
// input's shape, (.)^T = transpose, * = elementwise unless stated.
const std::vector<OpInfo>& differentiable_ops() {
    static const std::vector<OpInfo> ops = {
        {"add",          "y = a + b (broadcast)",                   "da = sum_b g;  db = sum_b g"},
        {"sub",          "y = a - b (broadcast)",                   "da = sum_b g;  db = -sum_b g"},
        {"mul",          "y = a * b (broadcast)",                   "da = sum_b g*b;  db = sum_b g*a"},
        {"div",          "y = a / b (broadcast)",                   "da = sum_b g/b;  db = -sum_b g*a/b^2"},
        {"add_scalar",   "y = x + s",                               "dx = g"},
        {"mul_scalar",   "y = x * s",                               "dx = g*s"},
        {"neg",          "y = -x",                                  "dx = -g"},
        {"exp",          "y = e^x",                                 "dx = g*y"},
        {"log",          "y = ln x",                                "dx = g/x"},
        {"sqrt",         "y = sqrt(x)",                             "dx = g / (2 y)"},
        {"square",       "y = x^2",                                 "dx = 2 g x"},
        {"pow",          "y = x^p (p a constant)",                  "dx = g p x^(p-1)"},
        {"sigmoid",      "y = 1/(1+e^-x)",                          "dx = g y (1-y)"},
        {"tanh",         "y = tanh x",                              "dx = g (1-y^2)"},
        {"relu",         "y = max(x, 0)",                           "dx = g [x > 0]"},
        {"silu",         "y = x s(x)",                              "dx = g s (1 + x (1-s))"},
        {"sum",          "y = sum of x over axes (keepdim or not)", "dx = g broadcast back over the axes"},
        {"reshape",      "y = x with a new shape (a view)",         "dx = g reshaped"},
        {"permute",      "y[i_p(0),..] = x[i_0,..]",                "dx = g permuted back"},
        {"matmul",       "C = A B (2-d or batched)",                "dA = g B^T;  dB = A^T g"},
        {"linear",       "y = x W^T + b",                           "dx = g W;  dW = g^T x;  db = sum_rows g"},
        {"conv2d",       "y[n,o] = b[o] + sum_c w[o,c] (*) x[n,c] [+ r[n,o]]", "dx = full correlation of g with flipped w; dw = x (*) g; db = sum g; dr = g"},
        {"group_norm",   "y = (x-mu_g)/sqrt(var_g+eps) * w + b",    "dx = rstd/ M (M gh - sum gh - xhat sum gh xhat), gh = g w"},
        {"group_norm_silu", "y = silu(z), z = group_norm(x [+ shift[n,c]]) (above)", "gz = g s(z) (1 + z (1-s(z))); then group_norm's with gz for g; dshift = sum_hw dx"},
        {"concat",       "y = [x_1, x_2, ...] along an axis",       "dx_i = the matching range of g"},
        {"slice",        "y = x[start:end] along an axis",          "dx[start:end] += g"},
        {"upsample2x",   "y[2i+a, 2j+b] = x[i, j] (nearest)",       "dx[i,j] = sum of the 4 g it was copied to"},
        {"avg_pool2d",   "y[i,j] = mean of the k x k block",        "dx = g/(k k) spread over the block"},
        {"mse_loss",     "L = mean (a-b)^2",                        "da = 2 g (a-b)/n;  db = -da"},
        {"log_softmax",  "y = x - log sum_j e^x_j (last axis)",     "dx = g - softmax(x) sum_j g_j"},
        {"nll_loss",     "L = -mean_i logp[i, label_i]",            "dlogp[i, label_i] = -g/N"},
    };
    return ops;
}

const OpInfo* find_op(const char* name) {
    for (const OpInfo& op : differentiable_ops())
        if (std::strcmp(op.name, name) == 0) return &op;
    return nullptr;
}

}  // namespace fw
