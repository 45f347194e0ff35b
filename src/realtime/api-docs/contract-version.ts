/** The version of the wire and REST contracts the documents describe; it follows the package's. */
export const CONTRACT_VERSION = '0.1.0';
