using System.Text.Json.Serialization;

namespace Switchboard.Protocol;

/// <summary>
/// Source-generated JSON metadata for every wire type: snake_case names, zero values omitted,
/// duplicate properties refused (a hostile client must not smuggle a second value past a check).
/// </summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingDefault,
    AllowDuplicateProperties = false,
    MaxDepth = 64)]
[JsonSerializable(typeof(Command))]
[JsonSerializable(typeof(Reply))]
[JsonSerializable(typeof(Push))]
[JsonSerializable(typeof(Publication))]
[JsonSerializable(typeof(ClientInfo))]
[JsonSerializable(typeof(StreamPosition))]
internal sealed partial class ProtocolJsonContext : JsonSerializerContext;
