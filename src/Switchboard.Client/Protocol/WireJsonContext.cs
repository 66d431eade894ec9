using System.Text.Json.Serialization;

namespace Switchboard.Client.Protocol;

/// <summary>Source-generated JSON metadata for the wire types: snake_case names, zero values omitted.</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingDefault,
    MaxDepth = 256)] // tolerant of deeply nested data a server may pass on
[JsonSerializable(typeof(Command))]
[JsonSerializable(typeof(Reply))]
internal sealed partial class WireJsonContext : JsonSerializerContext;
