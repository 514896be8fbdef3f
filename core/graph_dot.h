// The autograd graph behind a tensor, as a picture: Graphviz DOT.
//
//   digraph autograd {
//     t3 [label="conv2d\n(2,8,28,28)", shape=box];           one node per recorded op
//     t1 [label="enc0.conv1.weight\n(8,8,3,3)", ...];         leaves: a parameter's name, or "input"
//     t1 -> t3;  t2 -> t3;                                    edges in data-flow order (input -> op)
//   }
//
// Draw it with `dot -Tpng graph.dot -o graph.png` (Debian's graphviz; `make graph` does it for the
// tiny UNet's training step). FW_GRAPH=file.dot writes the graph of a program's first backward()
// (core/watch.h). Nodes are numbered in the order a depth-first walk from the root finishes them
// (inputs before the ops that read them), so the same code gives the same file.
#pragma once

#include <string>

#include "core/tensor.h"

namespace fw {

std::string graph_dot(const Tensor& root);
// Writes graph_dot(root) to `path` (through a temporary file and a rename); fw::Error naming the
// path when it cannot be written.
void write_dot(const Tensor& root, const std::string& path);

}  // namespace fw
