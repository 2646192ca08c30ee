"""The EXI codec (ISO 15118 messages as EXI, through the EXIficient jar the `iso15118`
package ships) and the ISO 15118 messages the contract-certificate providers and the
simulated vehicle build and read."""
