//! 2-D maps of embeddings: thesis Fig. 4.9 shows where an encoder puts original clips and their
//! slightly transformed versions. The exact t-SNE [`kernel`] and the `tsne` table function
//! ([`function`]) that runs it over an embedding column make such a map a query; [`pca`] is
//! the principal-component start of the optimisation.

pub mod function;
pub mod kernel;
pub mod pca;
