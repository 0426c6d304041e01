//! Built-in screen renderers (work in progress by the render helper).
