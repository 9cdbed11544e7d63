"""Neural fields on the shared FFN blocks: image fitting and radiance fields with nerfstudio's parts.

- `ffn_fields.fields`: PE (Fourier-feature), SIREN, grid and CAM fields; every hidden block is an
  injected ``ffn_blocks`` factory.
- `ffn_fields.image`: 2-D image fitting (scikit-image photographs or any image path), PSNR/SSIM.
- `ffn_fields.radiance`: `RadianceRenderer` (nerfstudio samplers/renderers around a field), blender data.
- `ffn_fields.scene`: an analytic scene rendered exactly and written in the blender format.
- `ffn_fields.nerfstudio_method`: the ``ns-train ffn-cam`` / ``ffn-pe`` method plugin.
"""
