// hone/hone.h: the whole public API. See hone/session.h for a usage example.
#pragma once

#include "hone/npy.h"
#include "hone/session.h"
#include "hone/status.h"
#include "hone/tensor.h"
#include "hone/value.h"
