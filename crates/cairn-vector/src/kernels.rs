//! Distance kernels. TODO(helper): scalar reference + SIMD variants.
