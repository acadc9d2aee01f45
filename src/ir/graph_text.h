// A readable listing of a graph (`hone info --graph`): inputs, outputs, weights, then one line
// per node, "outputs = domain.Op(inputs) {attributes}  # name", with declared shapes where known;
// subgraphs indented below their node.
#pragma once

#include <string>

#include "ir/graph.h"

namespace hone {

std::string GraphToText(const Graph& graph);

}  // namespace hone
